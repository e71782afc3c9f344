//! The Redis write connector (`connectorDestination: Redis`): the self-hosted counterpart of
//! LetsData's cache destination (Momento).
//!
//! A `Customer` Redis is named by `redisUrl` (`redis://[user[:password]@]host[:port][/db]`,
//! `rediss://` for TLS); a `LetsData` one is the installation's (`LETSDATA_REDIS_URL`), with a
//! key prefix of the dataset's own. The password may be a `${env:NAME}` reference, in
//! `redisUrl` or in `redisPassword`.

use super::fields::{Obj, Problems, quote};
use super::validate::RESOURCE_LOCATIONS;
use super::{RedisWriteConnector, ResourceLocation, WriteConnector};

/// Fields of the Redis write connector.
pub(super) const REDIS_WRITE_FIELDS: &[&str] = &[
    "connectorDestination",
    "resourceLocation",
    "redisUrl",
    "redisPassword",
    "keyPrefix",
    "ttlInSeconds",
    "maxValueSizeInBytes",
];

/// Redis's largest value.
const MAX_VALUE: u32 = 512 * 1024 * 1024;

/// `writeConnector` with `connectorDestination: Redis`.
pub(super) fn redis_write_connector(
    p: &mut Problems,
    o: &Obj<'_>,
) -> (Option<ResourceLocation>, Option<WriteConnector>) {
    o.check_unknown(p, REDIS_WRITE_FIELDS, &[]);
    let location = o.optional_choice(
        p,
        "resourceLocation",
        &RESOURCE_LOCATIONS,
        ResourceLocation::Customer,
    );
    let url = match location {
        Some(ResourceLocation::Customer) => {
            match o.string(
                p,
                "redisUrl",
                Some("the Redis to write documents to, e.g. \"redis://cache:6379/0\" (rediss:// for TLS)"),
            ) {
                Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                    Some(Some(url.to_string()))
                }
                Some(url) => {
                    p.push(
                        o.field_path("redisUrl"),
                        format!(
                            "{} is not a Redis URL; expected redis://host:port/db or rediss://... for TLS",
                            quote(&crate::secrets::redact_url(url))
                        ),
                    );
                    None
                }
                None => None,
            }
        }
        Some(ResourceLocation::LetsData) => {
            if o.has("redisUrl") {
                p.push(
                    o.field_path("redisUrl"),
                    "a LetsData cache is this installation's Redis (LETSDATA_REDIS_URL); remove it, or use resourceLocation Customer for your Redis",
                );
                None
            } else {
                Some(None)
            }
        }
        None => None,
    };
    let password = o.non_empty_string(p, "redisPassword").map(str::to_string);
    let prefix = if location == Some(ResourceLocation::LetsData) && o.has("keyPrefix") {
        // delete removes every key under the prefix: only a prefix letsdata made is safe.
        super::write_connectors::refuse_letsdata_name(p, o, "keyPrefix", "keyspace");
        None
    } else {
        o.string(p, "keyPrefix", None).map(str::to_string)
    };
    let ttl = if o.has("ttlInSeconds") {
        o.integer(p, "ttlInSeconds", (1, u32::MAX), None, 0)
            .map(Some)
    } else {
        Some(None)
    };
    let max = o.integer(p, "maxValueSizeInBytes", (1, MAX_VALUE), None, 1024 * 1024);
    let connector = (|| {
        Some(WriteConnector::Redis(RedisWriteConnector {
            resource_location: location?,
            redis_url: url?,
            redis_password: password,
            key_prefix: prefix,
            ttl_in_seconds: ttl?,
            max_value_size_in_bytes: max?,
        }))
    })();
    (location, connector)
}
