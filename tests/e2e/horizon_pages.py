# Copyright 2026 The magnum-capi-rdma Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""Horizon and magnum-ui pages, driven in headless Chromium.

Debian's ``chromium`` and ``chromium-driver`` (``tools/test`` installs
them) through Selenium WebDriver. The browser reaches loopback addresses
only: every host name but 127.0.0.1 and localhost resolves to nothing, and
background networking is off.

magnum-ui 19.0.0's forms are AngularJS workflows in a modal: a column of
tabs on the left, angular-schema-form fields named after the API's
attributes (``input[name=name]``, ``select[name=image_id]``,
``textarea[name=labels]`` ...) and a footer with Back / Next / the submit
button. The result of a submit is a toast (``<toast>`` at the top of the
page): ``alert-success`` or ``alert-danger``. The detail pages
(``ngdetails/OS::Magnum::Cluster/<id>``) load once; reading a status again
means reloading the page.

Every wait is a WebDriverWait on a condition.
"""

import contextlib
import os
import re
import shutil
import subprocess

from selenium.common import exceptions as sel_exc
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1280, 800)
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}")
PAGE_TIMEOUT = 60
MODAL = ".modal-dialog"

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--no-first-run",
    "--no-proxy-server",
    # loopback only: any other name resolves to nothing
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, "
    "EXCLUDE 127.0.0.1",
    "--window-size=%d,%d" % WINDOW,
    "--force-device-scale-factor=1",
    "--lang=en-US",
)


class BrowserMissing(Exception):
    """Chromium or its WebDriver is not installed."""


class PageError(AssertionError):
    """The page did not show what the test waited for."""


def missing_browser():
    """What is missing to run the browser, or None."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER)
               if not os.access(path, os.X_OK)]
    if missing:
        return ("%s not found: install Debian's chromium and chromium-driver "
                "(tools/test does it as root)" % " and ".join(missing))
    return None


def start_chromium(log_path):
    """A headless Chromium WebDriver; its driver log goes to LOG_PATH."""
    problem = missing_browser()
    if problem:
        raise BrowserMissing(problem)
    # Selenium Manager (which downloads browsers) stays offline.
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=log_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    # --window-size counts the browser's frame: make the page WINDOW.
    inner = driver.execute_script(
        "return [window.innerWidth, window.innerHeight];")
    outer = driver.get_window_size()
    driver.set_window_size(outer["width"] + WINDOW[0] - inner[0],
                           outer["height"] + WINDOW[1] - inner[1])
    return driver


class Horizon(object):
    """One browser session on one Horizon, with screenshots per step."""

    def __init__(self, driver, base_url, shots_dir):
        self.driver = driver
        self.base_url = base_url.rstrip("/") + "/"
        self.shots_dir = shots_dir
        self.shots = []
        os.makedirs(shots_dir, exist_ok=True)

    # -- generic -------------------------------------------------------------

    def url(self, path):
        return self.base_url + path.lstrip("/")

    def wait(self, timeout=PAGE_TIMEOUT, poll=0.25):
        return WebDriverWait(self.driver, timeout, poll_frequency=poll,
                             ignored_exceptions=(
                                 sel_exc.StaleElementReferenceException,))

    def until(self, condition, message, timeout=PAGE_TIMEOUT, poll=0.25):
        """Wait for CONDITION; a PageError naming MESSAGE otherwise."""
        try:
            return self.wait(timeout, poll).until(condition)
        except sel_exc.TimeoutException:
            raise PageError("%s (after %d s; page %s; toasts: %s)" % (
                message, timeout, self.driver.current_url,
                self.toasts() or "none"))

    def screenshot(self, name):
        """Save the viewport as NAME.png in the artifacts folder."""
        path = os.path.join(self.shots_dir, name + ".png")
        self.driver.save_screenshot(path)
        self.shots.append(path)
        return path

    def screenshot_block(self, heading, name):
        """Save the detail block under the heading HEADING as NAME.png."""
        block = self.driver.find_element(By.XPATH, (
            "//div[contains(@class,'detail')][h3[normalize-space(.)=%s]]"
            % _xpath_str(heading)))
        self.driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'});", block)
        path = os.path.join(self.shots_dir, name + ".png")
        block.screenshot(path)
        self.shots.append(path)
        return path

    def save_failure(self, name):
        """Screenshot, HTML and browser console of a failed test."""
        try:
            self.screenshot("FAILED-" + name)
            with open(os.path.join(self.shots_dir, "FAILED-%s.html" % name),
                      "w") as handle:
                handle.write(self.driver.page_source)
            with open(os.path.join(self.shots_dir,
                                   "FAILED-%s.console.txt" % name),
                      "w") as handle:
                for entry in self.driver.get_log("browser"):
                    handle.write("%(level)s %(message)s\n" % entry)
        except sel_exc.WebDriverException:
            pass

    @contextlib.contextmanager
    def step(self, name):
        """Save the page (see save_failure) if the block fails."""
        try:
            yield
        except Exception:
            self.save_failure(name)
            raise

    def visible(self, css, root=None):
        """The first visible element matching CSS, or None."""
        for element in (root or self.driver).find_elements(By.CSS_SELECTOR,
                                                           css):
            if element.is_displayed():
                return element
        return None

    def toasts(self, kind=None):
        """Texts of the toasts shown (KIND: success, danger, ...)."""
        css = "toast .alert" + ("-%s" % kind if kind else "")
        try:
            return [t.text.strip() for t in self.driver.find_elements(
                By.CSS_SELECTOR, css) if t.text.strip()]
        except sel_exc.WebDriverException:
            return []

    def close_toasts(self):
        for link in self.driver.find_elements(By.CSS_SELECTOR,
                                              "toast .alert a.close"):
            try:
                link.click()
            except sel_exc.WebDriverException:
                pass

    def angular_idle(self, driver=None):
        """True once AngularJS has no pending HTTP request."""
        return self.driver.execute_script(
            "var el = document.querySelector('[ng-app]') || document.body;"
            "if (!window.angular) { return true; }"
            "var inj = angular.element(el).injector();"
            "if (!inj) { return true; }"
            "return inj.get('$http').pendingRequests.length === 0;")

    # -- log in --------------------------------------------------------------

    def login(self, username, password, next_path="project/"):
        """Log in through the login form; lands on NEXT_PATH."""
        self.driver.get(self.url("auth/login/?next=/%s" %
                                 next_path.lstrip("/")))
        self.until(ec.visibility_of_element_located((By.ID, "id_username")),
                   "no login form at %s" % self.url("auth/login/"))
        self.driver.find_element(By.ID, "id_username").send_keys(username)
        self.driver.find_element(By.ID, "id_password").send_keys(password)
        self.screenshot("01-login")
        self.driver.find_element(By.ID, "loginBtn").click()

        def landed(driver):
            if "/auth/login" not in driver.current_url:
                return True
            errors = [e.text for e in driver.find_elements(
                By.CSS_SELECTOR, ".alert-danger, .help-block")
                if e.is_displayed() and e.text.strip()]
            if errors:
                raise PageError("login refused: %s" % "; ".join(errors))
            return False

        self.until(landed, "still on the login page")
        self.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, ".navbar, #navbar-collapse")),
            "no Horizon navigation bar after login")

    # -- panels and modal forms ---------------------------------------------

    def open_panel(self, path, action_text):
        """Open a panel; its global action button once the table loaded.

        An error toast on the panel (e.g. its list call failed) fails.
        """
        self.driver.get(self.url(path))
        button = self.until(
            ec.element_to_be_clickable((By.XPATH, (
                "//button[normalize-space(.)=%s]" % _xpath_str(action_text)))),
            "no '%s' button on %s" % (action_text, path))
        self.until(lambda d: self.angular_idle(),
                   "the panel %s kept loading" % path)
        errors = self.toasts("danger")
        if errors:
            raise PageError("the panel %s shows: %s" % (path,
                                                        " | ".join(errors)))
        return button

    def open_form(self, path, action_text):
        """Click a panel's global action; wait for its modal form."""
        self.open_panel(path, action_text).click()
        self.until(ec.visibility_of_element_located(
            (By.CSS_SELECTOR, MODAL + " form[name=schemaForm]")),
            "the '%s' form did not open" % action_text)
        self.until(lambda d: self.angular_idle(),
                   "the '%s' form kept loading" % action_text)

    def modal(self):
        return self.driver.find_element(By.CSS_SELECTOR, MODAL)

    def tab(self, title):
        """Show the form's tab TITLE."""
        link = self.until(ec.element_to_be_clickable((By.XPATH, (
            "//div[contains(@class,'modal-dialog')]"
            "//ul[contains(@class,'nav-pills')]/li/a[normalize-space(.)=%s]"
            % _xpath_str(title)))), "no tab '%s' in the form" % title)
        link.click()
        self.until(lambda d: "active" in link.find_element(
            By.XPATH, "..").get_attribute("class"),
            "tab '%s' did not open" % title)

    def field(self, name, tag="*"):
        """The visible form field NAME (input, select or textarea)."""
        css = "%s %s[name='%s']" % (MODAL, "" if tag == "*" else tag, name)
        css = css.replace("  ", " ")
        return self.until(lambda d: self.visible(css),
                          "no visible field '%s' in the form" % name)

    def type_into(self, name, text):
        element = self.field(name)
        element.clear()
        element.send_keys(text)
        self.until(lambda d: element.get_attribute("value") == text,
                   "field '%s' does not hold what was typed" % name)

    def choose(self, name, option_text):
        """Pick OPTION_TEXT in the select NAME, once it is offered."""
        element = self.field(name, "select")

        def offered(driver):
            texts = [o.text.strip() for o in Select(element).options]
            return option_text in texts

        self.until(offered, "select '%s' never offered '%s'" % (
            name, option_text))
        Select(element).select_by_visible_text(option_text)
        self.until(lambda d: Select(element).first_selected_option.text
                   .strip() == option_text,
                   "select '%s' did not keep '%s'" % (name, option_text))

    def check(self, name, wanted=True):
        """Set the checkbox NAME (through its label, as a user would)."""
        box = self.driver.find_element(
            By.CSS_SELECTOR,
            "%s input[type=checkbox][name='%s']" % (MODAL, name))
        if box.is_selected() != wanted:
            label = self.driver.find_element(
                By.CSS_SELECTOR, "%s label[for='%s']" % (MODAL, name))
            label.click()
        self.until(lambda d: box.is_selected() == wanted,
                   "checkbox '%s' is not %s" % (name, wanted))

    def submit(self, success_pattern):
        """Submit the modal; the success toast's text.

        Fails with the text of an error toast if one shows instead.
        """
        self.close_toasts()
        button = self.until(ec.element_to_be_clickable(
            (By.CSS_SELECTOR, MODAL + " .modal-footer .btn-primary")),
            "the form's submit button stays disabled (a required field "
            "is empty or invalid)")
        button.click()

        def outcome(driver):
            errors = self.toasts("danger")
            if errors:
                raise PageError("the form was refused: %s"
                                % " | ".join(errors))
            for text in self.toasts("success"):
                if re.search(success_pattern, text):
                    return text
            return False

        text = self.until(outcome, "no toast matching %r after submit"
                          % success_pattern)
        self.until(ec.invisibility_of_element_located(
            (By.CSS_SELECTOR, MODAL)), "the form did not close")
        return text

    # -- detail pages --------------------------------------------------------

    def details(self):
        """{term: text} of the definition lists of a detail page."""
        return self.driver.execute_script(
            "var out = {};"
            "document.querySelectorAll('dl').forEach(function (dl) {"
            "  var term = null;"
            "  Array.prototype.forEach.call(dl.children, function (el) {"
            "    if (el.tagName === 'DT') { term = el.textContent.trim(); }"
            "    else if (term !== null && !(term in out)) {"
            "      out[term] = el.textContent.trim(); }"
            "  });"
            "});"
            "return out;")

    def open_details(self, kind, uuid, wanted_term):
        """Load a detail page; wait until WANTED_TERM has a value."""
        self.driver.get(self.url("ngdetails/OS::Magnum::%s/%s"
                                 % (kind, uuid)))

        def loaded(driver):
            shown = self.details()
            return shown if shown.get(wanted_term) else False

        return self.until(loaded, "the %s page of %s shows no %s" % (
            kind, uuid, wanted_term))

    def watch_details(self, kind, uuid, done, message, timeout, poll=5):
        """Reload a detail page until DONE(details) is true.

        DONE may raise to stop at once (e.g. on a *_FAILED status).
        Returns the details that satisfied DONE.
        """
        def reload_and_check(driver):
            shown = self.open_details(kind, uuid, "Status")
            return shown if done(shown) else False

        return self.until(reload_and_check, message, timeout=timeout,
                          poll=poll)

    def scroll_to_text(self, text):
        """Scroll so that the element holding TEXT is in view."""
        elements = self.driver.find_elements(By.XPATH, (
            "//*[normalize-space(text())=%s]" % _xpath_str(text)))
        if elements:
            self.driver.execute_script(
                "arguments[0].scrollIntoView({block: 'start'});"
                "window.scrollBy(0, -70);", elements[0])

    def close(self):
        try:
            self.driver.quit()
        except sel_exc.WebDriverException:
            pass


def _xpath_str(text):
    """TEXT as an XPath string literal."""
    if "'" not in text:
        return "'%s'" % text
    return "concat(%s)" % ", \"'\", ".join(
        "'%s'" % part for part in text.split("'"))


def uuid_in(text):
    """The first UUID in TEXT (toasts name what they created by it)."""
    found = UUID_RE.search(text)
    if not found:
        raise PageError("no ID in %r" % text)
    return found.group(0)


def copy_for_docs(paths, dest_dir):
    """Copy the screenshots PATHS into DEST_DIR (the docs' static folder).

    With pngquant installed (Debian's ``pngquant``) the copies are
    reduced to 256 colours, about a third of the size.
    """
    os.makedirs(dest_dir, exist_ok=True)
    pngquant = shutil.which("pngquant")
    for path in paths:
        target = os.path.join(dest_dir, os.path.basename(path))
        if pngquant:
            subprocess.run([pngquant, "--force", "--skip-if-larger",
                            "--strip", "--output", target, "256", path],
                           check=False)
        if not os.path.exists(target) or \
                os.path.getmtime(target) < os.path.getmtime(path):
            shutil.copy(path, target)
