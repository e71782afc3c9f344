//! The web console (`letsdata server` at `/`) in a real browser: Debian's Chromium, headless,
//! driven through chromedriver (WebDriver). A user signs in with an API key, creates a dataset
//! from JSON with mistakes (each problem shows at its JSON path), fixes it, watches it end
//! ERRORED in the datasets list (a file is missing), adds the file and redrives it to COMPLETED,
//! reads its overview, workflow steps, tasks, an error record, a task log and its metrics, is
//! refused an action (the server's reason shows), deletes it behind the confirmation and signs
//! out; the browser's console must stay free of errors throughout. A second user (with
//! failpoints slowing workflow steps and tasks down) follows a Wasm dataset's initialization
//! live, stops it while it runs, is refused a code update that does not build, updates its code,
//! redrives it to COMPLETED, then descales, freezes and deletes it. A third reads the pages of a
//! dataset of more tasks than a page (tasks, the log picker, metrics).
//!
//! chromedriver: `LETSDATA_TEST_CHROMEDRIVER`, else `chromedriver` on the PATH (`scripts/test.sh`
//! installs Debian's `chromium` and `chromium-driver` when missing). Without it the test fails.
//! With `LETSDATA_CONSOLE_SCREENSHOTS=1` it writes a screenshot of each page to `docs/console/`.

mod common;

use common::{TestHome, config};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `letsdata server` on a free port of the loopback.
type Server = common::ServerProcess;

/// chromedriver on a free port of the loopback.
struct Driver {
    child: Child,
    url: String,
}

/// Where chromedriver is: `LETSDATA_TEST_CHROMEDRIVER`, else `chromedriver` on the PATH.
fn chromedriver_path() -> PathBuf {
    if let Some(path) = std::env::var_os("LETSDATA_TEST_CHROMEDRIVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("chromedriver"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "the console's browser tests need chromedriver and Chromium: install Debian's \
                 `chromium` and `chromium-driver` (apt-get install chromium chromium-driver; \
                 scripts/test.sh does) or set LETSDATA_TEST_CHROMEDRIVER to a chromedriver{}",
                if std::env::var_os("CI").is_some() {
                    " (CI is set: the browser tests must run)"
                } else {
                    ""
                }
            )
        })
}

impl Driver {
    fn start(home: &TestHome) -> Driver {
        let path = chromedriver_path();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(home.home().join("chromedriver.log")).expect("log file");
        let mut child = Command::new(&path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver {}: {e}", path.display()));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("chromedriver {} exited: {status}", path.display());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {url}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        common::stop_child(&mut self.child, Duration::from_secs(10), "chromedriver");
    }
}

/// A headless Chromium session, 1280 px wide, its console log collected.
async fn browser(driver: &Driver) -> Client {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1280,900",
        "--force-device-scale-factor=1",
    ];
    let mut options = json!({"args": args});
    if let Some(binary) = std::env::var_os("LETSDATA_TEST_CHROMIUM").filter(|b| !b.is_empty()) {
        options["binary"] = json!(binary.to_string_lossy());
    }
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": options,
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("an object")
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("cannot open a Chromium session through chromedriver: {e}"))
}

/// What the test does in the browser, and what the browser's console said.
struct Page {
    client: Client,
    driver_url: String,
    http: reqwest::Client,
    /// Every console entry read so far.
    console: Vec<Value>,
    shots: Option<PathBuf>,
}

const WAIT: Duration = Duration::from_secs(20);

impl Page {
    /// The browser's console entries since the last read (chromedriver's log of the session).
    async fn read_console(&mut self) -> Vec<Value> {
        let session = self
            .client
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        let answer: Value = self
            .http
            .post(format!("{}/session/{session}/se/log", self.driver_url))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("chromedriver log")
            .json()
            .await
            .expect("log JSON");
        let entries = answer["value"].as_array().cloned().unwrap_or_default();
        self.console.extend(entries.iter().cloned());
        entries
    }

    /// Runs `script` (a function body) in the page; its return value.
    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The text of the first element matching `css` (None while there is none).
    async fn text(&self, css: &str) -> Option<String> {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
            vec![json!(css)],
        )
        .await
        .as_str()
        .map(str::to_string)
    }

    /// Waits until the text of `css` satisfies `ok`; that text.
    async fn wait_text(
        &self,
        css: &str,
        within: Duration,
        ok: impl Fn(&str) -> bool,
        what: &str,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.text(css).await;
            if let Some(t) = &text
                && ok(t)
            {
                return t.clone();
            }
            if Instant::now() > deadline {
                let main = self.text("main").await.unwrap_or_default();
                panic!("{what}: {css} shows {text:?}\nthe page shows:\n{main}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for `css` to show `expected` (contained in its text).
    async fn wait_for(&self, css: &str, expected: &str) -> String {
        self.wait_text(
            css,
            WAIT,
            |t| t.contains(expected),
            &format!("expected {expected:?}"),
        )
        .await
    }

    async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} to click: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Replaces the text of the field `css` by typing `text`.
    async fn type_into(&self, css: &str, text: &str) {
        let field = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no field {css}: {e}"));
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Waits up to `within` until the number of elements matching `css` satisfies `ok`; that
    /// number.
    async fn wait_count(
        &self,
        css: &str,
        within: Duration,
        ok: impl Fn(u64) -> bool,
        what: &str,
    ) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            let n = self.count(css).await;
            if ok(n) {
                return n;
            }
            assert!(Instant::now() < deadline, "{what}: {n} of {css}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn count(&self, css: &str) -> u64 {
        self.js(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(css)],
        )
        .await
        .as_u64()
        .expect("a count")
    }

    /// Writes a screenshot of the viewport to docs/console/<name>.png, when asked to.
    async fn shot(&self, name: &str) {
        let Some(dir) = &self.shots else { return };
        // Nothing half-drawn: let the page settle (polls, fonts) first; no passing message.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.js("document.getElementById('toast').hidden = true;", vec![])
            .await;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Checks that the page fits a 390 px wide window (a phone; wide tables scroll inside their
    /// frame), with a screenshot named `shot` when there is one; back to 1280 px.
    async fn at_390(&self, shot: Option<&str>) {
        self.client
            .set_window_size(390, 844)
            .await
            .expect("narrow window");
        let narrow = self.width().await;
        assert!(narrow <= 400, "the window did not narrow: {narrow} px");
        // Layout settles after the resize.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let overflow = self
            .js(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await;
        let hash = self.js("return location.hash;", vec![]).await;
        assert!(
            overflow.as_i64().expect("px") <= 0,
            "{hash} is wider than 390 px by {overflow} px"
        );
        if let Some(name) = shot {
            self.shot(name).await;
        }
        self.client
            .set_window_size(1280, 900)
            .await
            .expect("wide window");
    }

    /// Opens the console at `url` and signs in with `key`: the datasets page shows.
    async fn sign_in(&self, url: &str, key: &str) {
        self.client.goto(url).await.expect("open the console");
        self.wait_for("h1", "Sign in").await;
        self.type_into("#api-key", key).await;
        self.click("#sign-in").await;
        self.wait_for("h1", "Datasets").await;
    }

    /// Fails on any error or warning in the browser's console but `refusals`: requests the
    /// scenario is refused on purpose (the page shows them), which Chromium logs as failed
    /// requests, as (path under `url`, HTTP status).
    async fn assert_no_console_errors(&mut self, url: &str, refusals: &[(&str, &str)]) {
        self.read_console().await;
        let errors: Vec<&Value> = self
            .console
            .iter()
            .filter(|e| e["level"] == "SEVERE" || e["level"] == "WARNING")
            .filter(|e| {
                let message = e["message"].as_str().unwrap_or("");
                e["source"] != "network"
                    || !refusals.iter().any(|(path, status)| {
                        message
                            .strip_prefix(&format!("{url}{path}"))
                            .is_some_and(|rest| rest.starts_with([' ', '?']))
                            && message.contains(&format!("status of {status}"))
                    })
            })
            .collect();
        assert!(errors.is_empty(), "the browser's console: {errors:#?}");
    }

    /// Confirms the action `button` opens (its dialog titled `title`).
    async fn act(&self, button: &str, title: &str) {
        self.click(button).await;
        self.wait_for("#confirm", title).await;
        self.click("#confirm-ok").await;
    }

    /// Waits up to `within` for the dataset page's status to be `status`.
    async fn wait_status(&self, status: &str, within: Duration) {
        self.wait_text(
            "#dataset-status",
            within,
            |t| t == status,
            &format!("the dataset becomes {status}"),
        )
        .await;
    }

    /// The browser's viewport width.
    async fn width(&self) -> u64 {
        self.js("return window.innerWidth;", vec![])
            .await
            .as_u64()
            .expect("width")
    }
}

/// `n` JSON lines from id `from` on.
fn lines(from: u64, n: u64) -> String {
    (from..from + n)
        .map(|i| {
            format!(
                "{{\"id\": {i}, \"event\": \"view\", \"amount\": {}}}\n",
                i * 3
            )
        })
        .collect()
}

/// The dataset's input in the local tenant's bucket: two files with a malformed line each;
/// the third, `orders-2.jsonl`, is missing until the test adds it before a redrive.
fn input(home: &TestHome) {
    home.put(
        "console-input",
        "orders-1.jsonl",
        format!("{}not json at all\n", lines(0, 40)).as_bytes(),
    );
    home.put(
        "console-input",
        "orders-3.jsonl",
        format!("{}{{\"id\": 150, \"cut\": \n", lines(100, 50)).as_bytes(),
    );
}

/// The dataset's configuration, at INFO so its task logs have lines.
fn dataset_config() -> Value {
    let mut cfg = config(
        "ConsoleOrders",
        "console-input",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["orders-1.jsonl", "orders-2.jsonl", "orders-3.jsonl"],
    );
    cfg["computeEngine"]["logLevel"] = json!("INFO");
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_creates_watches_inspects_and_deletes_a_dataset_in_the_console() {
    let home = TestHome::local();
    input(&home);
    let missing = home.bucket("console-input").join("orders-2.jsonl");
    in_browser(&home, |mut page, url, key| async move {
        scenario(&mut page, &url, &key, &missing).await
    })
    .await;
}

/// Starts chromedriver, a server on `home` and a browser session, and runs `scenario` with the
/// page, the server's URL and an API key of the local tenant; the browser is closed whether the
/// scenario passes or fails.
async fn in_browser<F, Fut>(home: &TestHome, scenario: F)
where
    F: FnOnce(Page, String, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let run = home.run(&["admin", "apikeys", "create", "--tenantName", "local"]);
    assert_eq!(run.code, 0, "admin apikeys create: {}", run.stderr);
    let key = run.json()["apiKey"].as_str().expect("apiKey").to_string();
    // chromedriver first: without it the test fails at once, saying what to install.
    let driver = Driver::start(home);
    let server = Server::start(home, &[]);
    let shots = std::env::var_os("LETSDATA_CONSOLE_SCREENSHOTS")
        .filter(|v| v == "1")
        .map(|_| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console");
            std::fs::create_dir_all(&dir).expect("docs/console");
            dir
        });
    let client = browser(&driver).await;
    let page = Page {
        client: client.clone(),
        driver_url: driver.url.clone(),
        http: reqwest::Client::new(),
        console: Vec::new(),
        shots,
    };
    // The scenario in a task of its own: when it fails, the browser is still closed.
    let outcome = tokio::spawn(scenario(page, server.url.clone(), key)).await;
    let _ = client.close().await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
    eprintln!("console scenario: {:.1} s", started.elapsed().as_secs_f64());
}

async fn scenario(page: &mut Page, url: &str, key: &str, missing: &Path) {
    // What the server sends: the page and its modules with their types, a strict policy and
    // an ETag, revalidated to 304; an unknown file is a JSON 404.
    let page_answer = page
        .http
        .get(format!("{url}/"))
        .send()
        .await
        .expect("GET /");
    assert_eq!(page_answer.status(), 200);
    let headers = page_answer.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let module = page
        .http
        .get(format!("{url}/console/app.js"))
        .send()
        .await
        .expect("GET app.js");
    assert_eq!(
        module.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = module.headers()["etag"].clone();
    let again = page
        .http
        .get(format!("{url}/console/app.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("GET app.js again");
    assert_eq!(again.status(), 304);
    let unknown = page
        .http
        .get(format!("{url}/console/nope.js"))
        .send()
        .await
        .expect("GET nope.js");
    assert_eq!(unknown.status(), 404);

    page.client.goto(url).await.expect("open the console");

    // The console log reaches the test: a probe error is read back (else this test could not
    // see the page's errors at all).
    page.wait_for("h1", "Sign in").await;
    page.js("console.error('letsdata-console-probe');", vec![])
        .await;
    let probe = page.read_console().await;
    assert!(
        probe.iter().any(|e| e["message"]
            .as_str()
            .unwrap_or("")
            .contains("letsdata-console-probe")),
        "the browser's console log does not reach the test: {probe:?}"
    );
    page.console.clear();
    assert_eq!(page.width().await, 1280, "the window is 1280 px wide");

    // Sign in: a wrong key is refused with the server's message, the right one shows the tenant.
    page.shot("signin").await;
    page.type_into("#api-key", "ldk_not-a-key").await;
    page.click("#sign-in").await;
    let refused = page.wait_for(".alert.error", "Sign-in failed").await;
    assert!(refused.contains("Unauthorized"), "{refused}");
    // With the keyboard: Enter in the field signs in.
    page.type_into("#api-key", &format!("{key}\u{E007}")).await;
    page.wait_for("h1", "Datasets").await;
    page.wait_for("#tenant-name", "local").await;
    page.wait_for(".empty", "No datasets yet").await;

    // Create from JSON with two mistakes: each problem shows with its JSON path.
    page.click("a[data-nav=create]").await;
    page.wait_for("h1", "Create a dataset").await;
    let mut bad = dataset_config();
    bad["computeEngine"]["concurrency"] = json!(0);
    bad["computeEngine"]["logLevel"] = json!("LOUD");
    page.type_into(
        "#config",
        &serde_json::to_string_pretty(&bad).expect("json"),
    )
    .await;
    page.click("#create").await;
    page.wait_for("#problems", "The configuration has 2 problems")
        .await;
    for path in ["computeEngine.concurrency", "computeEngine.logLevel"] {
        let problem = page
            .wait_for(&format!("#problems .problem[data-path='{path}']"), path)
            .await;
        assert!(
            problem.len() > path.len() + 5,
            "the problem at {path} has no message: {problem:?}"
        );
    }
    // Choosing a problem selects its field in the editor.
    page.click("#problems .problem[data-path='computeEngine.concurrency'] button")
        .await;
    let selected = page
        .js(
            "const t = document.getElementById('config'); return t.value.slice(t.selectionStart, t.selectionEnd);",
            vec![],
        )
        .await;
    assert_eq!(selected, json!("\"concurrency\""));
    page.shot("create").await;

    // Fixed, it is created and the dataset's page opens.
    page.type_into(
        "#config",
        &serde_json::to_string_pretty(&dataset_config()).expect("json"),
    )
    .await;
    page.click("#create").await;
    page.wait_for(".dataset-head h1", "ConsoleOrders").await;

    // The datasets list follows it to ERRORED by itself (it polls while anything runs): one of
    // its files is missing.
    page.click("a[data-nav=datasets]").await;
    let row = "#datasets tr[data-name=ConsoleOrders]";
    page.wait_text(
        &format!("{row} .status"),
        Duration::from_secs(120),
        |t| t == "ERRORED",
        "the dataset ends ERRORED",
    )
    .await;
    page.wait_for(&format!("{row} .documents"), "90").await;
    // The status filter.
    page.js(
        "const s = document.getElementById('status-filter'); s.value = 'COMPLETED'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    page.wait_for(".empty", "No dataset has this status").await;
    page.js(
        "const s = document.getElementById('status-filter'); s.value = 'ERRORED'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    page.wait_for(row, "ConsoleOrders").await;

    // The missing file added, a redrive from the dataset's page completes it.
    std::fs::write(missing, lines(40, 60)).expect("the missing file");
    page.click(&format!("{row} a")).await;
    page.wait_for("#dataset-status", "ERRORED").await;
    page.click("#action-redrive").await;
    page.wait_for("#confirm", "Redrive the errored tasks?")
        .await;
    page.click("#confirm-ok").await;
    page.wait_text(
        "#dataset-status",
        Duration::from_secs(120),
        |t| t == "COMPLETED",
        "the redriven dataset completes",
    )
    .await;

    // The datasets list shows it COMPLETED with every document.
    page.click("a[data-nav=datasets]").await;
    page.wait_for(&format!("{row} .status"), "COMPLETED").await;
    // Progress is eventually consistent: the counts follow the status.
    page.wait_for(&format!("{row} .documents"), "150").await;
    assert_eq!(
        page.text(&format!("{row} .errors")).await.as_deref(),
        Some("2")
    );
    let bar = page.text(&format!("{row} .bar-text")).await;
    assert_eq!(bar.as_deref(), Some("3/3"));
    page.shot("datasets").await;

    // At 390 px: the page fits the width (tables scroll inside their frame).
    page.at_390(Some("datasets-390")).await;

    // Overview: progress, resources, execution log, the configuration.
    page.click(&format!("{row} a")).await;
    page.wait_for("#documents-written", "150").await;
    assert_eq!(page.text("#error-records").await.as_deref(), Some("2"));
    let overview = page.text("#panel-overview").await.unwrap_or_default();
    assert!(
        overview.contains("\"builtinParser\": \"jsonl\""),
        "{overview}"
    );
    assert!(overview.contains("Execution log"), "{overview}");
    page.shot("overview").await;
    page.at_390(None).await;

    // Initialization: the workflow's steps, each COMPLETED.
    page.click("#tab-initialization").await;
    page.wait_for("#init-steps", "Initialization workflow")
        .await;
    let steps = page.count("#init-steps .step").await;
    let done = page.count("#init-steps .step.completed").await;
    assert!(steps >= 3, "{steps} steps");
    assert_eq!(done, steps, "every initialization step COMPLETED");
    // The redrive's steps, each COMPLETED, in a map of their own.
    page.wait_for("#redrive-1", "Redrive 1: 1 task").await;
    let steps = page.count("#redrive-1 .step").await;
    let done = page.count("#redrive-1 .step.completed").await;
    assert!(steps >= 3, "{steps} redrive steps");
    assert_eq!(done, steps, "every redrive step COMPLETED");
    page.shot("initialization").await;

    // Tasks: three, COMPLETED; filtered by status.
    page.click("#tab-tasks").await;
    page.wait_for("#tasks", "orders-3.jsonl").await;
    assert_eq!(page.count("#tasks tbody tr").await, 3);
    // Each task's bar: the bytes of its file read, of its size (all of it).
    let bars = page
        .js(
            "return [...document.querySelectorAll('#tasks tbody .bar-text')].map(e => e.textContent);",
            vec![],
        )
        .await;
    assert_eq!(bars, json!(["100%", "100%", "100%"]));
    let label = page
        .js(
            "return document.querySelector('#tasks tbody .progress').getAttribute('aria-label');",
            vec![],
        )
        .await;
    assert!(
        label.as_str().unwrap_or("").contains("read (100%)"),
        "{label}"
    );
    page.js(
        "const s = document.getElementById('task-status-filter'); s.value = 'ERRORED'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    page.wait_for("#tasks-body", "No ERRORED task").await;
    page.click("#tab-tasks").await;
    page.wait_for("#tasks", "orders-1.jsonl").await;
    page.shot("tasks").await;
    page.at_390(None).await;

    // A task's log, from its row.
    page.click("#tasks tr:first-child a.task-log").await;
    let log = page.wait_for("#task-log", "task completed").await;
    assert!(
        log.contains("task completed: 41 records read, 40 documents written, 1 error records"),
        "{log}"
    );
    page.shot("logs").await;

    // Errors: two error objects, then one's records: message, offsets, the raw record.
    page.click("#tab-errors").await;
    page.wait_for("#error-objects", "View records").await;
    assert_eq!(page.count("#error-objects tbody tr").await, 2);
    page.click("#error-objects tbody tr:first-child a.view-records")
        .await;
    page.wait_for("#error-records", "Error records of task")
        .await;
    let raw = page.text("#error-records .raw").await.unwrap_or_default();
    let records = page.text("#error-records").await.unwrap_or_default();
    assert!(
        raw == "not json at all" || raw.starts_with("{\"id\": 150"),
        "raw record {raw:?}"
    );
    assert!(records.contains("Offsets"), "{records}");
    assert!(
        page.text("#error-records .record-message")
            .await
            .is_some_and(|m| m.contains("JSON")),
        "{records}"
    );
    page.shot("errors").await;

    // Metrics: per-minute charts and numbers.
    page.click("#tab-metrics").await;
    page.wait_for("#metrics tbody", "%").await;
    assert!(page.count("#chart-records rect.mark").await >= 1);
    assert!(page.count("#chart-success circle.mark").await >= 1);
    page.shot("metrics").await;
    page.at_390(None).await;

    // A compute update through its dialog (Enter in a field confirms); the overview's
    // configuration shows the new concurrency.
    page.click("#action-compute").await;
    page.wait_for("#confirm", "Update the compute settings?")
        .await;
    page.type_into("#compute-concurrency", "3\u{E007}").await;
    page.wait_for("#toast", "Compute update: done").await;
    page.click("#tab-overview").await;
    page.wait_for("#panel-overview", "\"concurrency\": 3").await;

    // A refused action shows the server's reason.
    page.click("#action-stop").await;
    page.wait_for("#confirm", "Stop the tasks?").await;
    page.click("#confirm-ok").await;
    let refusal = page.wait_for("#action-status", "Stop was refused").await;
    assert!(refusal.contains("Refused (HTTP 409)"), "{refusal}");

    // Delete: cancelled once (nothing happens), then confirmed.
    page.click("#action-delete").await;
    page.wait_for("#confirm", "Delete ConsoleOrders?").await;
    page.click("#confirm-cancel").await;
    assert_eq!(
        page.js("return document.getElementById('confirm').open;", vec![])
            .await,
        json!(false)
    );
    page.wait_for("#dataset-status", "COMPLETED").await;
    page.click("#action-delete").await;
    page.wait_for("#confirm", "Delete ConsoleOrders?").await;
    page.shot("delete").await;
    page.click("#confirm-ok").await;
    page.wait_for("h1", "Datasets").await;
    page.wait_text(
        "#datasets-body",
        WAIT,
        |t| !t.contains("ConsoleOrders") || t.contains("DELETED"),
        "the dataset is deleted",
    )
    .await;

    // Sign out: the key leaves the tab.
    page.click("#sign-out").await;
    page.wait_for(".alert.info", "Signed out").await;
    assert_eq!(
        page.js("return sessionStorage.length;", vec![]).await,
        json!(0)
    );

    // No error in the browser's console, but the answers the page showed (the refused key, the
    // configuration's problems, the refused stop), which Chromium logs as failed requests.
    page.assert_no_console_errors(
        url,
        &[
            ("/api/v1/whoami", "401"),
            ("/api/v1/dataset/create", "400"),
            ("/api/v1/tasks/stop", "409"),
        ],
    )
    .await;
}

/// Lines of the running dataset's file `f`: `RUNNING_LINES` JSON lines, and in file 3 a line
/// the first component panics on (a trap: its task ERRORED until the code is updated).
fn running_file(f: u64) -> String {
    let mut text = lines(f * 1000, RUNNING_LINES);
    if f == 3 {
        text.push_str("PANIC here\n");
    }
    text
}

const RUNNING_FILES: u64 = 8;
const RUNNING_LINES: u64 = 200;

/// A running dataset operated from the console: its initialization followed live, stopped while
/// it runs, its code updated (a refused update first), redriven to COMPLETED, then descaled,
/// frozen and deleted. Slowed by failpoints so each stage can be seen: every workflow step
/// takes 1.5 s more, every task 1 s more, one task at a time and none claimed ahead.
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_stops_a_running_dataset_updates_its_code_redrives_and_retires_it() {
    let mut home = TestHome::local();
    home.env("LETSDATA_TASKS_AHEAD", "0")
        .env("LETSDATA_HEARTBEAT_SECONDS", "1")
        .env(
            "LETSDATA_FAILPOINTS",
            "workflow-step-executed=sleep(1500);task-finished=sleep(1000)",
        );
    home.put(
        "code",
        "misbehave.wasm",
        &common::component("letsdata-test-misbehave"),
    );
    home.put(
        "code",
        "json-transform.wasm",
        &common::component("json-transform"),
    );
    home.put("code", "junk.wasm", b"\0asm\x0d\0\x01\0junk");
    let names: Vec<String> = (0..RUNNING_FILES)
        .map(|f| format!("part-{f}.jsonl"))
        .collect();
    for (f, name) in names.iter().enumerate() {
        home.put("running-input", name, running_file(f as u64).as_bytes());
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut cfg = common::wasm_config(
        "ConsoleRunning",
        "running-input",
        "Single File Reader",
        "s3://code/misbehave.wasm",
        &names,
    );
    cfg["computeEngine"]["concurrency"] = json!(1);
    in_browser(&home, |mut page, url, key| async move {
        running(&mut page, &url, &key, &cfg).await
    })
    .await;
}

async fn running(page: &mut Page, url: &str, key: &str, cfg: &Value) {
    page.sign_in(url, key).await;
    page.console.clear();
    page.click("a[data-nav=create]").await;
    page.wait_for("h1", "Create a dataset").await;
    page.type_into("#config", &serde_json::to_string_pretty(cfg).expect("json"))
        .await;
    page.click("#create").await;
    page.wait_for(".dataset-head h1", "ConsoleRunning").await;

    // The initialization workflow, live: the page shows some steps done and others not, then
    // all of them done, without being reloaded.
    page.click("#tab-initialization").await;
    page.wait_for("#init-steps", "Initialization workflow")
        .await;
    page.js("window.stillThisPage = true;", vec![]).await;
    // The steps appear once the workflow starts (the page opens on the dataset CREATED).
    let steps = page
        .wait_count(
            "#init-steps .step",
            WAIT,
            |n| n >= 3,
            "the initialization steps",
        )
        .await;
    let done = page
        .wait_count(
            "#init-steps .step.completed",
            Duration::from_secs(60),
            |n| n >= 1,
            "no initialization step completed",
        )
        .await;
    assert!(
        done < steps,
        "every step was COMPLETED before the page showed one done and one not"
    );
    page.shot("initialization-live").await;
    page.wait_count(
        "#init-steps .step.completed",
        Duration::from_secs(60),
        |n| n >= steps,
        "the initialization did not complete on the page",
    )
    .await;
    assert_eq!(
        page.js("return window.stillThisPage === true;", vec![])
            .await,
        json!(true),
        "the page was reloaded, not updated"
    );

    // Stopped while it runs: the running task checkpoints and stops, the rest are not started.
    page.wait_status("PROCESSING", Duration::from_secs(60))
        .await;
    page.act("#action-stop", "Stop the tasks?").await;
    page.wait_for("#toast", "Stop: done").await;
    page.wait_status("ERRORED", Duration::from_secs(60)).await;
    page.click("#tab-tasks").await;
    page.wait_for("#tasks", "part-").await;
    page.js(
        "const s = document.getElementById('task-status-filter'); s.value = 'COMPLETED'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    page.wait_text(
        "#tasks-body",
        WAIT,
        |t| !t.contains("Loading"),
        "the COMPLETED tasks",
    )
    .await;
    let completed = page.count("#tasks tbody tr").await;
    assert!(
        completed < RUNNING_FILES,
        "the stop came after every task had completed ({completed})"
    );
    page.click("#tab-tasks").await;
    page.wait_for("#tasks", "ERRORED").await;

    // A code update that does not build is refused with the server's reason; the code stays.
    page.click("#action-code").await;
    page.wait_for("#confirm", "Update the code?").await;
    let link = page
        .js("return document.getElementById('code-link').value;", vec![])
        .await;
    assert_eq!(link, json!("s3://code/misbehave.wasm"));
    page.type_into("#code-link", "s3://code/junk.wasm\u{E007}")
        .await;
    let refusal = page
        .wait_for("#action-status", "Code update was refused")
        .await;
    assert!(refusal.contains("keeps its current code"), "{refusal}");
    // Then one that builds: the overview shows the new version and the one before it.
    page.click("#action-code").await;
    page.wait_for("#confirm", "Update the code?").await;
    page.type_into("#code-link", "s3://code/json-transform.wasm\u{E007}")
        .await;
    page.wait_for("#toast", "Code update: done").await;
    page.wait_status("ERRORED", WAIT).await;
    page.click("#tab-overview").await;
    let code = page.wait_for("#code", "json-transform.wasm").await;
    assert!(code.contains("Earlier version"), "{code}");
    assert!(code.contains("misbehave.wasm"), "{code}");
    page.js("document.getElementById('code').scrollIntoView();", vec![])
        .await;
    page.shot("code").await;
    page.click("#tab-initialization").await;
    page.wait_for("#code-update-2", "json-transform.wasm").await;
    let steps = page.count("#code-update-2 .step").await;
    assert_eq!(steps, 2, "the code update's two steps");
    assert_eq!(page.count("#code-update-2 .step.completed").await, steps);
    assert_eq!(page.count("#code-update-1 .step.error").await, 1);

    // Redriven: the stopped tasks resume from their checkpoints and the dataset completes,
    // every line a document but the one the new code cannot parse (an error record).
    page.act("#action-redrive", "Redrive the errored tasks?")
        .await;
    page.wait_status("COMPLETED", Duration::from_secs(120))
        .await;
    page.click("#tab-overview").await;
    page.wait_for(
        "#documents-written",
        &format!(
            "{},{:03}",
            RUNNING_FILES * RUNNING_LINES / 1000,
            RUNNING_FILES * RUNNING_LINES % 1000
        ),
    )
    .await;
    assert_eq!(page.text("#error-records").await.as_deref(), Some("1"));

    // Descaled, then frozen: its task database goes, and the tasks tab says why it is empty.
    page.act("#action-descale", "Descale the dataset?").await;
    page.wait_status("DESCALED", Duration::from_secs(60)).await;
    page.act("#action-freeze", "Freeze the dataset?").await;
    page.wait_status("FROZEN", Duration::from_secs(60)).await;
    page.click("#tab-initialization").await;
    page.wait_for("main", "Descale workflow").await;
    page.wait_for("main", "Freeze workflow").await;
    page.click("#tab-tasks").await;
    let frozen = page.wait_for("#tasks-body", "Cannot list the tasks").await;
    assert!(
        frozen.contains("FROZEN") || frozen.contains("frozen"),
        "{frozen}"
    );
    page.act("#action-delete", "Delete ConsoleRunning?").await;
    page.wait_for("h1", "Datasets").await;
    page.wait_text(
        "#datasets-body",
        Duration::from_secs(60),
        |t| !t.contains("ConsoleRunning") || t.contains("DELETED"),
        "the dataset is deleted",
    )
    .await;

    page.assert_no_console_errors(
        url,
        &[
            ("/api/v1/dataset/code", "422"),
            ("/api/v1/tasks/list", "409"),
        ],
    )
    .await;
}

/// Tasks of the many-task dataset: more than a page of them.
const MANY: u64 = 130;

/// A dataset of more tasks than a page: the Logs tab's task picker lists the first 100 and
/// adds the next ones on request; the Metrics tab reads every minute and shows the range it
/// chose; the Tasks tab pages forward and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_of_a_dataset_of_more_tasks_than_a_page() {
    let home = TestHome::local();
    let names: Vec<String> = (0..MANY).map(|i| format!("one-{i:03}.jsonl")).collect();
    for (i, name) in names.iter().enumerate() {
        home.put("many-input", name, lines(i as u64, 2).as_bytes());
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut cfg = config(
        "ConsoleMany",
        "many-input",
        json!({"builtinParser": "jsonl"}),
        &names,
    );
    cfg["computeEngine"]["logLevel"] = json!("INFO");
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "create: {}", run.stderr);
    in_browser(&home, |mut page, url, key| async move {
        many(&mut page, &url, &key).await
    })
    .await;
}

async fn many(page: &mut Page, url: &str, key: &str) {
    page.sign_in(url, key).await;
    page.console.clear();
    let row = "#datasets tr[data-name=ConsoleMany]";
    page.wait_for(&format!("{row} .bar-text"), &format!("{MANY}/{MANY}"))
        .await;
    page.click(&format!("{row} a")).await;

    // Tasks: 100, the next page has the rest, and back.
    page.click("#tab-tasks").await;
    page.wait_for("#tasks", "one-000.jsonl").await;
    assert_eq!(page.count("#tasks tbody tr").await, 100);
    page.click("#tasks-next").await;
    page.wait_for("#tasks", "one-100.jsonl").await;
    assert_eq!(page.count("#tasks tbody tr").await, MANY - 100);
    page.click(".pager button:first-child").await;
    page.wait_for("#tasks", "one-000.jsonl").await;

    // Logs: the picker has the first 100 tasks, then all of them.
    page.click("#tab-logs").await;
    let options = "#log-task option[value]:not([value=''])";
    // The first page's options come in at once (the button's text is there before them).
    let first = page
        .wait_count(options, WAIT, |n| n > 0, "the picker's first tasks")
        .await;
    assert_eq!(first, 100);
    page.wait_for("#log-more-tasks", "More tasks").await;
    page.click("#log-more-tasks").await;
    page.wait_count(
        options,
        WAIT,
        |n| n >= MANY,
        "the picker grows to every task",
    )
    .await;
    assert_eq!(
        page.js(
            "return document.getElementById('log-more-tasks').hidden;",
            vec![]
        )
        .await,
        json!(true),
        "no more tasks to add"
    );
    // A task of the second page, chosen in the picker: its log.
    page.js(
        "const s = document.getElementById('log-task'); s.value = s.options[s.options.length - 1].value; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    page.wait_for("#log-body", "task completed").await;
    page.at_390(None).await;

    // Metrics: every minute read; the whole run shown (it fits a day).
    page.click("#tab-metrics").await;
    let span = page
        .wait_for("#metrics-span", "minutes with activity")
        .await;
    // "N of N minutes with activity": all of them.
    let (shown, all) = span.split_once(" of ").expect("N of M");
    assert!(all.starts_with(&format!("{shown} minute")), "{span}");
    assert_eq!(
        page.js(
            "return document.getElementById('metrics-range').value;",
            vec![]
        )
        .await,
        json!("0"),
        "the whole run"
    );
    let records = page.text("#metrics tbody").await.unwrap_or_default();
    assert!(records.contains(&(2 * MANY).to_string()), "{records}");
    // The last hour: the same minutes (the run took less).
    page.js(
        "const s = document.getElementById('metrics-range'); s.value = '60'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    page.wait_for("#chart-records figcaption", "per minute")
        .await;
    page.at_390(None).await;

    page.assert_no_console_errors(url, &[]).await;
}
