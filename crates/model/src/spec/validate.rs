//! The dataset validator: root fields, the environment-dependent requirements and assembly
//! of the [`DatasetSpec`]. Connectors, `computeEngine` and the manifest are validated in
//! their own modules.

use super::compute::{compute_engine, customer_owned as compute_customer_owned};
use super::fields::{Choice, Choices, Obj, Problems, ROOT, json_type, quote, show};
use super::manifest::manifest_file;
use super::overlap::overlapping_destinations;
use super::read_connector::read_connector;
use super::write_connectors::{error_connector, write_connector};
use super::{
    ConfigError, DatasetSpec, Problem, ReaderType, Region, ResourceLocation, ValidationContext,
};
use serde_json::Value;

const ROOT_FIELDS: &[&str] = &[
    "datasetName",
    "region",
    "accessGrantRoleArn",
    "customerAccountForAccess",
    "readConnector",
    "writeConnector",
    "errorConnector",
    "computeEngine",
    "manifestFile",
];

/// An example for messages about `datasetName`.
const DATASET_NAME_EXAMPLE: &str = "ClickstreamsMapReduceJune2022";
const ROLE_ARN_EXAMPLE: &str = "arn:aws:iam::123456789012:role/LetsDataAccessRole";

pub(super) const RESOURCE_LOCATIONS: Choices<ResourceLocation> = Choices {
    what: "a resource location",
    items: &[
        Choice {
            value: ResourceLocation::LetsData,
            name: "LetsData",
            alias: "",
        },
        Choice {
            value: ResourceLocation::Customer,
            name: "Customer",
            alias: "",
        },
    ],
    note: "",
};

pub(super) const READER_TYPES: Choices<ReaderType> = Choices {
    what: "a reader type",
    items: &[
        Choice {
            value: ReaderType::SingleFileReader,
            name: "Single File Reader",
            alias: "SINGLEFILEREADER",
        },
        Choice {
            value: ReaderType::SingleFileStateMachineReader,
            name: "Single File State Machine Reader",
            alias: "SINGLEFILESTATEMACHINEREADER",
        },
        Choice {
            value: ReaderType::MultipleFileStateMachineReader,
            name: "Multiple File State Machine Reader",
            alias: "MULTIPLEFILESTATEMACHINEREADER",
        },
    ],
    note: "",
};

const REGIONS: Choices<Region> = Choices {
    what: "a supported region",
    items: &[
        Choice {
            value: Region::UsEast1,
            name: "us-east-1",
            alias: "",
        },
        Choice {
            value: Region::UsEast2,
            name: "us-east-2",
            alias: "",
        },
        Choice {
            value: Region::UsWest2,
            name: "us-west-2",
            alias: "",
        },
        Choice {
            value: Region::EuWest1,
            name: "eu-west-1",
            alias: "",
        },
        Choice {
            value: Region::ApSouth1,
            name: "ap-south-1",
            alias: "",
        },
        Choice {
            value: Region::ApNortheast1,
            name: "ap-northeast-1",
            alias: "",
        },
    ],
    note: "",
};

/// Parses and validates a dataset configuration written in LetsData's JSON, reporting every
/// problem found (each with its JSON path) rather than stopping at the first.
pub fn parse_dataset_spec(
    json: &Value,
    ctx: ValidationContext,
) -> Result<DatasetSpec, ConfigError> {
    let Value::Object(map) = json else {
        return Err(ConfigError {
            problems: vec![Problem {
                path: ROOT.to_string(),
                message: format!(
                    "must be a JSON object holding the dataset configuration, found {}",
                    json_type(json)
                ),
            }],
        });
    };
    let p = &mut Problems::default();
    let root = Obj::new(ROOT, map);
    root.check_unknown(p, ROOT_FIELDS, &[]);

    let dataset_name = dataset_name(p, &root);
    let region = root.required_choice(p, "region", &REGIONS, "the region the dataset runs in");
    let role_arn = access_grant_role_arn(p, &root);
    let account = customer_account(p, &root);
    let read = read_connector(p, &root);
    let write = write_connector(p, &root);
    let error = error_connector(p, &root);
    let compute = compute_engine(p, &root);
    let manifest = manifest_file(
        p,
        &root,
        read.reader_type,
        read.destination,
        compute.as_ref().map(|c| c.concurrency),
    );

    if let (Some(read), Some(vectors)) = (
        read.connector.as_ref(),
        compute.as_ref().and_then(|c| c.vectors.as_ref()),
    ) {
        super::vectors::builtin_fields_needed(
            p,
            vectors,
            matches!(read.implementation(), super::Implementation::Code(_)),
            "computeEngine.builtinVectorsFields".to_string(),
        );
    }

    overlapping_destinations(
        p,
        read.connector.as_ref(),
        write.connector.as_ref(),
        error.connector.as_ref(),
    );

    if ctx.aws_resources {
        let customer_owned: Vec<&str> = [
            read.location,
            manifest
                .link_location
                .map(|l| (l, "manifestFile.readerManifestResourceLocation")),
            write
                .resource_location
                .map(|l| (l, "writeConnector.resourceLocation")),
            error
                .resource_location
                .map(|l| (l, "errorConnector.resourceLocation")),
        ]
        .into_iter()
        .flatten()
        .chain(compute.iter().flat_map(compute_customer_owned))
        .filter(|(loc, _)| *loc == ResourceLocation::Customer)
        .map(|(_, path)| path)
        .collect();
        if !customer_owned.is_empty() && !root.has("accessGrantRoleArn") {
            p.push(
                root.field_path("accessGrantRoleArn"),
                format!(
                    "is required when a resource is Customer-owned ({} {} Customer): the IAM role \
                     letsdata assumes to access your resources, e.g. {ROLE_ARN_EXAMPLE}",
                    customer_owned.join(", "),
                    is_are(customer_owned.len())
                ),
            );
        }
        let letsdata_owned: Vec<&str> = [
            (write.resource_location, "writeConnector.resourceLocation"),
            (error.resource_location, "errorConnector.resourceLocation"),
        ]
        .into_iter()
        .filter(|(loc, _)| *loc == Some(ResourceLocation::LetsData))
        .map(|(_, path)| path)
        .collect();
        if !letsdata_owned.is_empty() && !root.has("customerAccountForAccess") {
            p.push(
                root.field_path("customerAccountForAccess"),
                format!(
                    "is required when letsdata creates a resource ({} {} LetsData): the 12-digit \
                     AWS account id that is granted access to the buckets, streams, queues and tables letsdata creates",
                    letsdata_owned.join(", "),
                    is_are(letsdata_owned.len())
                ),
            );
        }
    }

    if let (
        true,
        Some(dataset_name),
        Some(region),
        Some(read_connector),
        Some(write_connector),
        Some(error_connector),
        Some(compute_engine),
        Some(manifest),
    ) = (
        p.is_empty(),
        dataset_name,
        region,
        read.connector,
        write.connector,
        error.connector,
        compute,
        manifest.manifest,
    ) {
        return Ok(DatasetSpec {
            dataset_name,
            region,
            access_grant_role_arn: role_arn,
            customer_account_for_access: account,
            read_connector,
            write_connector,
            error_connector,
            compute_engine,
            manifest,
            warnings: p.take_warnings(),
        });
    }
    if p.is_empty() {
        // Every part that failed should have said why; never return an empty error.
        p.push(
            ROOT,
            "internal error: the configuration could not be assembled",
        );
    }
    Err(ConfigError {
        problems: std::mem::take(p).into_vec(),
    })
}

fn is_are(n: usize) -> &'static str {
    if n == 1 { "is" } else { "are" }
}

fn dataset_name(p: &mut Problems, root: &Obj<'_>) -> Option<String> {
    let path = root.field_path("datasetName");
    let name = root.string(
        p,
        "datasetName",
        Some(&format!(
            "the dataset's name, 1 to 128 ASCII letters and digits, e.g. {DATASET_NAME_EXAMPLE}"
        )),
    )?;
    let mut ok = true;
    if name.is_empty() {
        p.push(
            &path,
            format!(
                "must not be empty; use 1 to 128 ASCII letters and digits, e.g. {DATASET_NAME_EXAMPLE}"
            ),
        );
        return None;
    }
    let len = name.chars().count();
    if len > 128 {
        p.push(
            &path,
            format!("is {len} characters long; at most 128 are allowed"),
        );
        ok = false;
    }
    if let Some(bad) = name.chars().find(|c| !c.is_ascii_alphanumeric()) {
        p.push(
            &path,
            format!(
                "{} contains {bad:?}; only ASCII letters and digits are allowed ('_', '.', '|', \
                 '-', spaces and other characters are not), e.g. {DATASET_NAME_EXAMPLE}",
                quote(name)
            ),
        );
        ok = false;
    }
    ok.then(|| name.to_string())
}

fn access_grant_role_arn(p: &mut Problems, root: &Obj<'_>) -> Option<String> {
    let arn = root.string(p, "accessGrantRoleArn", None)?;
    if is_role_arn(arn) {
        Some(arn.to_string())
    } else {
        p.push(
            root.field_path("accessGrantRoleArn"),
            format!(
                "{} is not an IAM role ARN; expected arn:aws:iam::<12-digit account id>:role/<path/name> \
                 (partition aws, aws-cn or aws-us-gov), e.g. {ROLE_ARN_EXAMPLE}",
                quote(arn)
            ),
        );
        None
    }
}

/// `arn:<aws|aws-cn|aws-us-gov>:iam::<12 digits>:role/<path/name>`.
pub(super) fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    if !["aws", "aws-cn", "aws-us-gov"].contains(&partition) {
        return false;
    }
    let Some(rest) = rest.strip_prefix("iam::") else {
        return false;
    };
    let Some((account, rest)) = rest.split_once(':') else {
        return false;
    };
    let Some(role) = rest.strip_prefix("role/") else {
        return false;
    };
    is_account_id(account)
        && role.split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        })
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn customer_account(p: &mut Problems, root: &Obj<'_>) -> Option<String> {
    let path = root.field_path("customerAccountForAccess");
    match root.get("customerAccountForAccess")? {
        Value::String(s) if is_account_id(s) => Some(s.clone()),
        Value::String(s) => {
            p.push(
                path,
                format!(
                    "{} is not an AWS account id; expected exactly 12 digits",
                    quote(s)
                ),
            );
            None
        }
        v @ Value::Number(_) => {
            p.push(
                path,
                format!(
                    "must be a string of exactly 12 digits, found number {}; quote it (\"123456789012\") \
                     so that leading zeros are kept",
                    show(v)
                ),
            );
            None
        }
        v => {
            p.push(
                path,
                format!(
                    "must be a string of exactly 12 digits, found {}",
                    json_type(v)
                ),
            );
            None
        }
    }
}
