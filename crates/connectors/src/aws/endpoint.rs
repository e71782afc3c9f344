//! Which endpoint the environment sets for AWS services, buckets included: the one place that
//! reads the endpoint variables, so that the object store (S3 or local directories) and the
//! AWS clients agree.
//!
//! `LETSDATA_AWS_ENDPOINT` is letsdata's: one endpoint for every service. The AWS SDK's own
//! `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) reach the Kinesis, SQS and DynamoDB
//! clients through the SDK itself; [`endpoint_from_env`] gives them to the object store as well,
//! so that either variable moves the buckets from local directories to S3. As in the SDK,
//! `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` switches the `AWS_ENDPOINT_URL*` variables off (a
//! profile's `endpoint_url` is the SDK's only: buckets do not read profiles).

/// letsdata's endpoint variable: every AWS service, S3 buckets included, at this URL.
pub const AWS_ENDPOINT_ENV: &str = "LETSDATA_AWS_ENDPOINT";

/// The AWS SDK's endpoint variable for every service; `_<SERVICE>` appended for one service.
const SDK_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL";

/// The AWS SDK's switch that ignores [`SDK_ENDPOINT_ENV`] and its service variants.
const SDK_IGNORE_ENDPOINTS_ENV: &str = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS";

/// An endpoint the environment sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEndpoint {
    /// The variable that set it (`LETSDATA_AWS_ENDPOINT`, `AWS_ENDPOINT_URL_S3`, ...).
    pub variable: String,
    /// The endpoint URL.
    pub url: String,
}

/// The endpoint the environment sets for `service` (the SDK's service id as in its variable
/// names, `S3`, `KINESIS`, ...; `None`: for every service): `LETSDATA_AWS_ENDPOINT`, else
/// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`. Empty variables count as unset.
pub fn endpoint_from_env(service: Option<&str>) -> Option<EnvEndpoint> {
    endpoint_from(service, |k| std::env::var(k).ok())
}

/// [`endpoint_from_env`] with `var` reading the variables.
fn endpoint_from(
    service: Option<&str>,
    var: impl Fn(&str) -> Option<String>,
) -> Option<EnvEndpoint> {
    let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
    let ignore_sdk =
        var(SDK_IGNORE_ENDPOINTS_ENV).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let mut variables = vec![AWS_ENDPOINT_ENV.to_string()];
    if !ignore_sdk {
        variables.extend(service.map(|s| format!("{SDK_ENDPOINT_ENV}_{s}")));
        variables.push(SDK_ENDPOINT_ENV.to_string());
    }
    variables.into_iter().find_map(|variable| {
        let url = var(&variable)?;
        Some(EnvEndpoint { variable, url })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(service: Option<&str>, vars: &[(&str, &str)]) -> Option<(String, String)> {
        let vars: std::collections::HashMap<&str, &str> = vars.iter().copied().collect();
        endpoint_from(service, |k| vars.get(k).map(|v| v.to_string())).map(|e| (e.variable, e.url))
    }

    fn set(variable: &str, url: &str) -> Option<(String, String)> {
        Some((variable.to_string(), url.to_string()))
    }

    #[test]
    fn letsdata_endpoint_first_then_the_sdk_service_variable_then_the_sdk_one() {
        let all = [
            ("LETSDATA_AWS_ENDPOINT", "http://letsdata"),
            ("AWS_ENDPOINT_URL_S3", "http://s3"),
            ("AWS_ENDPOINT_URL", "http://any"),
        ];
        assert_eq!(
            endpoint(Some("S3"), &all),
            set("LETSDATA_AWS_ENDPOINT", "http://letsdata")
        );
        assert_eq!(
            endpoint(Some("S3"), &all[1..]),
            set("AWS_ENDPOINT_URL_S3", "http://s3")
        );
        assert_eq!(
            endpoint(Some("S3"), &all[2..]),
            set("AWS_ENDPOINT_URL", "http://any")
        );
        assert_eq!(
            endpoint(None, &all[1..]),
            set("AWS_ENDPOINT_URL", "http://any"),
            "another service's variable is not every service's"
        );
        assert_eq!(
            endpoint(Some("KINESIS"), &all[1..]),
            set("AWS_ENDPOINT_URL", "http://any")
        );
        assert_eq!(endpoint(Some("S3"), &[]), None);
    }

    #[test]
    fn empty_variables_are_unset() {
        assert_eq!(
            endpoint(
                Some("S3"),
                &[
                    ("LETSDATA_AWS_ENDPOINT", ""),
                    ("AWS_ENDPOINT_URL", "http://any")
                ]
            ),
            set("AWS_ENDPOINT_URL", "http://any")
        );
        assert_eq!(endpoint(Some("S3"), &[("AWS_ENDPOINT_URL_S3", " ")]), None);
    }

    #[test]
    fn the_sdk_switch_ignores_only_the_sdk_variables() {
        let ignore = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
        assert_eq!(
            endpoint(
                Some("S3"),
                &[
                    ignore,
                    ("AWS_ENDPOINT_URL", "http://any"),
                    ("AWS_ENDPOINT_URL_S3", "http://s3")
                ]
            ),
            None
        );
        assert_eq!(
            endpoint(
                Some("S3"),
                &[ignore, ("LETSDATA_AWS_ENDPOINT", "http://letsdata")]
            ),
            set("LETSDATA_AWS_ENDPOINT", "http://letsdata")
        );
        assert_eq!(
            endpoint(
                Some("S3"),
                &[
                    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false"),
                    ("AWS_ENDPOINT_URL", "http://any")
                ]
            ),
            set("AWS_ENDPOINT_URL", "http://any")
        );
    }
}
