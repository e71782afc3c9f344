//! The Kafka read and write connectors (`connectorDestination: KAFKA` / `Kafka`).
//!
//! A `Customer` topic is on the customer's cluster: `bootstrapServers` (a string
//! `host:port,host:port` or an array) with the security settings the cluster needs
//! (`securityProtocol` `PLAINTEXT` | `SSL` | `SASL_PLAINTEXT` | `SASL_SSL`, `saslMechanism`
//! `PLAIN` | `SCRAM-SHA-256` | `SCRAM-SHA-512`, `saslUsername`, `saslPassword`, `sslCaLocation`).
//! A `LetsData` topic is on the installation's own cluster (`LETSDATA_KAFKA_BOOTSTRAP_SERVERS`,
//! as LetsData runs its own MSK cluster), so those fields are not given.

use super::fields::{Choice, Choices, Obj, Problems, json_type, quote};
use super::read_connector::stream_implementation;
use super::validate::RESOURCE_LOCATIONS;
use super::{
    KafkaCluster, KafkaCompression, KafkaReadConnector, KafkaSasl, KafkaSaslMechanism,
    KafkaSecurity, KafkaWriteConnector, ReadConnector, ResourceLocation, WriteConnector,
};
use serde_json::Value;

/// Fields of the cluster and its security settings.
pub(super) const CLUSTER_FIELDS: &[&str] = &[
    "bootstrapServers",
    "securityProtocol",
    "saslMechanism",
    "saslUsername",
    "saslPassword",
    "sslCaLocation",
];

/// Fields of the Kafka read connector besides the implementation's.
pub(super) const KAFKA_READ_FIELDS: &[&str] = &[
    "bootstrapServers",
    "securityProtocol",
    "saslMechanism",
    "saslUsername",
    "saslPassword",
    "sslCaLocation",
    "topicName",
    "resourceLocation",
];

/// Fields of the Kafka write connector.
pub(super) const KAFKA_WRITE_FIELDS: &[&str] = &[
    "connectorDestination",
    "resourceLocation",
    "bootstrapServers",
    "securityProtocol",
    "saslMechanism",
    "saslUsername",
    "saslPassword",
    "sslCaLocation",
    "topicName",
    "kafkaPartitionCount",
    "kafkaReplicationFactor",
    "compression",
    "maxMessageBytes",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

const PROTOCOLS: Choices<Protocol> = Choices {
    what: "a Kafka security protocol",
    items: &[
        Choice {
            value: Protocol::Plaintext,
            name: "PLAINTEXT",
            alias: "",
        },
        Choice {
            value: Protocol::Ssl,
            name: "SSL",
            alias: "",
        },
        Choice {
            value: Protocol::SaslPlaintext,
            name: "SASL_PLAINTEXT",
            alias: "",
        },
        Choice {
            value: Protocol::SaslSsl,
            name: "SASL_SSL",
            alias: "",
        },
    ],
    note: "",
};

const MECHANISMS: Choices<KafkaSaslMechanism> = Choices {
    what: "a SASL mechanism",
    items: &[
        Choice {
            value: KafkaSaslMechanism::Plain,
            name: "PLAIN",
            alias: "",
        },
        Choice {
            value: KafkaSaslMechanism::ScramSha256,
            name: "SCRAM-SHA-256",
            alias: "",
        },
        Choice {
            value: KafkaSaslMechanism::ScramSha512,
            name: "SCRAM-SHA-512",
            alias: "",
        },
    ],
    note: "",
};

const COMPRESSIONS: Choices<KafkaCompression> = Choices {
    what: "a Kafka compression",
    items: &[
        Choice {
            value: KafkaCompression::None,
            name: "none",
            alias: "",
        },
        Choice {
            value: KafkaCompression::Gzip,
            name: "gzip",
            alias: "",
        },
        Choice {
            value: KafkaCompression::Snappy,
            name: "snappy",
            alias: "",
        },
        Choice {
            value: KafkaCompression::Lz4,
            name: "lz4",
            alias: "",
        },
        Choice {
            value: KafkaCompression::Zstd,
            name: "zstd",
            alias: "",
        },
    ],
    note: "",
};

/// Kafka's topic name rules: 1 to 249 ASCII letters, digits, `.`, `_` and `-`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if name.is_empty() || name.len() > 249 || !ok_chars || name == "." || name == ".." {
        return Err(format!(
            "{} is not a Kafka topic name: 1 to 249 letters, digits, '.', '_' and '-'",
            quote(name)
        ));
    }
    Ok(())
}

/// `bootstrapServers`: `host:port` servers, as one comma-separated string or an array.
fn bootstrap_servers(p: &mut Problems, o: &Obj<'_>) -> Option<Vec<String>> {
    let path = o.field_path("bootstrapServers");
    let raw: Vec<String> = match o.get("bootstrapServers")? {
        Value::String(s) => s.split(',').map(|s| s.trim().to_string()).collect(),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => out.push(s.trim().to_string()),
                    v => {
                        p.push(
                            path,
                            format!("must list host:port strings, found {}", json_type(v)),
                        );
                        return None;
                    }
                }
            }
            out
        }
        v => {
            p.push(
                path,
                format!(
                    "must be \"host:port,host:port\" or an array of them, found {}",
                    json_type(v)
                ),
            );
            return None;
        }
    };
    let servers: Vec<String> = raw.into_iter().filter(|s| !s.is_empty()).collect();
    if servers.is_empty() {
        p.push(path, "must name at least one broker, e.g. \"kafka1:9092\"");
        return None;
    }
    for s in &servers {
        let port_ok = s
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            p.push(
                path,
                format!("{} is not host:port, e.g. \"kafka1:9092\"", quote(s)),
            );
            return None;
        }
    }
    Some(servers)
}

/// The security settings of a cluster.
fn security(p: &mut Problems, o: &Obj<'_>) -> Option<KafkaSecurity> {
    let protocol = o.optional_choice(p, "securityProtocol", &PROTOCOLS, Protocol::Plaintext)?;
    let sasl = matches!(protocol, Protocol::SaslPlaintext | Protocol::SaslSsl);
    let tls = matches!(protocol, Protocol::Ssl | Protocol::SaslSsl);
    let mut ok = true;
    for field in ["saslMechanism", "saslUsername", "saslPassword"] {
        if !sasl && o.has(field) {
            p.push(
                o.field_path(field),
                "is only used with securityProtocol SASL_PLAINTEXT or SASL_SSL; remove it or set securityProtocol",
            );
            ok = false;
        }
    }
    if !tls && o.has("sslCaLocation") {
        p.push(
            o.field_path("sslCaLocation"),
            "is only used with securityProtocol SSL or SASL_SSL; remove it or set securityProtocol",
        );
        ok = false;
    }
    let ca = o.non_empty_string(p, "sslCaLocation").map(str::to_string);
    let sasl = if sasl {
        let mechanism =
            o.required_choice(p, "saslMechanism", &MECHANISMS, "how the client signs in");
        let username = o.string(p, "saslUsername", Some("the SASL user name"));
        let password = o.string(
            p,
            "saslPassword",
            Some("the SASL password, best as an environment variable reference: \"${env:KAFKA_PASSWORD}\""),
        );
        match (mechanism, username, password) {
            (Some(mechanism), Some(username), Some(password)) => Some(KafkaSasl {
                mechanism,
                username: username.to_string(),
                password: password.to_string(),
            }),
            _ => return None,
        }
    } else {
        None
    };
    ok.then_some(KafkaSecurity {
        tls,
        ssl_ca_location: ca,
        sasl,
    })
}

/// The cluster of a `Customer` topic, or the installation's for a `LetsData` one (then the
/// cluster fields must not be given).
fn cluster(
    p: &mut Problems,
    o: &Obj<'_>,
    location: Option<ResourceLocation>,
) -> Option<KafkaCluster> {
    match location? {
        ResourceLocation::Customer => {
            if !o.has("bootstrapServers") {
                p.push(
                    o.field_path("bootstrapServers"),
                    "is required when resourceLocation is Customer: the brokers of your cluster, e.g. \"kafka1:9092,kafka2:9092\"",
                );
                return None;
            }
            let servers = bootstrap_servers(p, o);
            let security = security(p, o);
            Some(KafkaCluster {
                bootstrap_servers: servers?,
                security: security?,
            })
        }
        ResourceLocation::LetsData => {
            let mut ok = true;
            for field in CLUSTER_FIELDS {
                if o.has(field) {
                    p.push(
                        o.field_path(field),
                        "a LetsData topic is on this installation's own cluster (LETSDATA_KAFKA_BOOTSTRAP_SERVERS); remove it, or use resourceLocation Customer for your cluster",
                    );
                    ok = false;
                }
            }
            ok.then(|| KafkaCluster {
                bootstrap_servers: Vec::new(),
                security: KafkaSecurity::default(),
            })
        }
    }
}

fn topic(p: &mut Problems, o: &Obj<'_>, required: Option<&str>) -> Option<Option<String>> {
    match o.string(p, "topicName", required) {
        Some(t) => match validate_topic_name(t) {
            Ok(()) => Some(Some(t.to_string())),
            Err(e) => {
                p.push(o.field_path("topicName"), e);
                None
            }
        },
        None if o.has("topicName") || required.is_some() => None,
        None => Some(None),
    }
}

/// `readConnector` with `connectorDestination: KAFKA`.
pub(super) fn kafka_read_connector(p: &mut Problems, o: &Obj<'_>) -> Option<ReadConnector> {
    let location = o.optional_choice(
        p,
        "resourceLocation",
        &RESOURCE_LOCATIONS,
        ResourceLocation::Customer,
    );
    let cluster = cluster(p, o, location);
    let topic = topic(p, o, Some("the Kafka topic to read"));
    let implementation = stream_implementation(p, o, "KAFKA").filter(|i| match i {
        super::Implementation::Code(code) if code.language.is_handler() => {
            p.push(
                o.field_path("artifactImplementationLanguage"),
                format!(
                    "LetsData's {} interfaces have no Kafka reader; read Kafka with Builtin or a \
                     Wasm component implementing KafkaRecordReader (docs/wasm.md)",
                    code.language
                ),
            );
            false
        }
        _ => true,
    });
    Some(ReadConnector::Kafka(KafkaReadConnector {
        cluster: cluster?,
        topic_name: topic??,
        resource_location: location?,
        implementation: implementation?,
    }))
}

/// `writeConnector` with `connectorDestination: Kafka`.
pub(super) fn kafka_write_connector(
    p: &mut Problems,
    o: &Obj<'_>,
) -> (Option<ResourceLocation>, Option<WriteConnector>) {
    o.check_unknown(p, KAFKA_WRITE_FIELDS, &[]);
    let location = o.required_choice(
        p,
        "resourceLocation",
        &RESOURCE_LOCATIONS,
        "who owns the topic: LetsData (letsdata creates it on its own cluster) or Customer (it must exist on bootstrapServers)",
    );
    let customer = location == Some(ResourceLocation::Customer);
    let cluster = cluster(p, o, location);
    let letsdata_named = location == Some(ResourceLocation::LetsData) && o.has("topicName");
    if letsdata_named {
        super::write_connectors::refuse_letsdata_name(p, o, "topicName", "topic");
    }
    let topic = topic(
        p,
        o,
        customer.then_some(
            "the existing Kafka topic to write documents to (required when resourceLocation is Customer)",
        ),
    );
    let mut ok = true;
    for field in ["kafkaPartitionCount", "kafkaReplicationFactor"] {
        if customer && o.has(field) {
            p.push(
                o.field_path(field),
                "sizes a topic letsdata creates (resourceLocation LetsData); a Customer topic keeps its partitions; remove it",
            );
            ok = false;
        }
    }
    let partitions = o.integer(p, "kafkaPartitionCount", (1, 10_000), None, 1);
    let replication = o.integer(p, "kafkaReplicationFactor", (1, 32), None, 1);
    let compression = o.optional_choice(p, "compression", &COMPRESSIONS, KafkaCompression::None);
    let max = o.integer(p, "maxMessageBytes", (1024, 1 << 30), None, 1024 * 1024);
    let connector = (|| {
        Some(WriteConnector::Kafka(KafkaWriteConnector {
            resource_location: location?,
            cluster: cluster?,
            topic_name: topic?,
            partition_count: partitions?,
            replication_factor: replication?,
            compression: compression?,
            max_message_bytes: max?,
        }))
    })();
    (location, connector.filter(|_| ok && !letsdata_named))
}
