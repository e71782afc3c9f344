//! A stream, queue or table that disappears between `datasets create` and the run fails the
//! initialization workflow with a message naming it (against the AWS emulator).

mod common;

use common::emulator::emulator;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn missing_customer_resources_fail_initialization_clearly() {
    let Some(em) = emulator().await else { return };
    let suffix = em.suffix.clone();
    let sqs = em.aws.sqs();
    let (input, output) = (format!("in-{suffix}"), format!("out-{suffix}"));
    let input_url = em.queue(&input).await;
    let output_url = em.queue(&output).await;
    // `--detach`, then `letsdata run`: the local store's workflow.
    let home = em.local_home();
    let config = |name: &str| {
        json!({
            "datasetName": format!("{name}{suffix}"),
            "region": "us-east-1",
            "accessGrantRoleArn": "arn:aws:iam::123456789012:role/LetsDataAccess",
            "customerAccountForAccess": "123456789012",
            "readConnector": {"connectorDestination": "SQS", "queueName": input,
                              "artifactImplementationLanguage": "Builtin"},
            "writeConnector": {"connectorDestination": "SQS", "resourceLocation": "Customer",
                               "queueName": output},
            "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
            "computeEngine": {"computeEngineType": "Lambda", "concurrency": 1},
            "manifestFile": {"sqsReaderTaskStopAfterConsecutiveEmptyReceives": 1},
        })
    };
    // Both queues exist at create time; the output queue is deleted before the run.
    let (write_gone, read_gone) = (config("WriteGone"), config("ReadGone"));
    let home = tokio::task::spawn_blocking(move || {
        for cfg in [&write_gone, &read_gone] {
            let path = home.config(cfg["datasetName"].as_str().expect("name"), cfg);
            let r = home.run(&[
                "datasets",
                "create",
                "--configFile",
                path.to_str().expect("utf8"),
                "--detach",
            ]);
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        home
    })
    .await
    .expect("join");
    sqs.delete_queue(&output_url).await.expect("delete");
    let s = suffix.clone();
    let home = tokio::task::spawn_blocking(move || {
        let suffix = s;
        let r = home.run(&["run"]);
        assert_eq!(
            r.code, 3,
            "both datasets end ERRORED: {}\n{}",
            r.stdout, r.stderr
        );
        let ds = home.view(&format!("WriteGone{suffix}"));
        assert_eq!(ds["datasetStatus"], "ERRORED");
        let step = &ds["initializationWorkflow"]["Write Connector - Check Customer SQS Queue"];
        assert_eq!(step["status"], "ERROR", "{ds}");
        let error = ds["lastError"].as_str().expect("lastError");
        assert!(
            error.contains("Write Connector - Check Customer SQS Queue")
                && error.contains(&format!("the SQS queue \"out-{suffix}\" does not exist")),
            "{error}"
        );
        // No task was created.
        assert_eq!(ds["datasetProgress"]["totalTasks"], 0, "{ds}");
        home
    })
    .await
    .expect("join");
    // The read queue gone: Create Tasks (1/2) says so.
    sqs.delete_queue(&input_url).await.expect("delete");
    let cfg = config("ReadMissing");
    tokio::task::spawn_blocking(move || {
        let suffix = suffix;
        let r = home.create(&cfg);
        assert_eq!(r.code, 1, "create refuses a missing read queue: {}", r.stdout);
        assert!(
            r.stderr.contains(&format!(
                "readConnector.queueName: the SQS queue \"in-{suffix}\" does not exist in region us-east-1"
            )),
            "{}",
            r.stderr
        );
        let list = home.run(&["datasets", "list"]).json();
        assert!(
            !list.to_string().contains("ReadMissing"),
            "nothing created: {list}"
        );
    })
    .await
    .expect("join");
}
