//! Where the AWS SDK looks for credentials, and what a call that found none tells the user.
//!
//! Without `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` the SDK walks its default chain: a
//! profile (`AWS_PROFILE`, `~/.aws/config`, `~/.aws/credentials`), web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE`), the container endpoint (`AWS_CONTAINER_CREDENTIALS_*`) and
//! last the EC2 instance metadata service (IMDS), for an instance's role. Off EC2 that last step
//! can only time out: seconds per call, ending in the SDK's "failed to load IMDS session token".
//! So when nothing but IMDS could give credentials and the machine is no EC2 instance (its DMI
//! vendor is not Amazon's), [`skip_default_chain`] says so and the clients get
//! [`NoCredentialSource`], which fails at once as the chain would have (`AWS_EC2_METADATA_DISABLED`
//! semantics). Setting `AWS_EC2_METADATA_DISABLED` or `AWS_EC2_METADATA_SERVICE_ENDPOINT` leaves
//! the SDK's chain to decide.
//!
//! A call without credentials fails with the SDK's `CredentialsNotLoaded` (the dispatch failure
//! whose source is that credentials error); [`is_missing`] recognizes it, and
//! [`ConnectorError::NoAwsCredentials`](crate::ConnectorError::NoAwsCredentials) carries
//! [`missing_reason`]: what is missing and what to set.

use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};
use std::path::{Path, PathBuf};

/// Variables any of which gives the default chain a source other than IMDS, or asks for IMDS.
const SOURCE_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
];

/// Whether the SDK's default credential chain could only end at IMDS, off EC2: no credential
/// variable, no profile file under `home`, not an EC2 instance. `var` reads a variable (`None`
/// when unset or empty), `exists` whether a file exists.
pub(crate) fn skip_default_chain(
    var: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
    on_ec2: bool,
) -> bool {
    if on_ec2 || SOURCE_VARS.iter().any(|v| var(v).is_some()) {
        return false;
    }
    // The SDK finds the profile files under HOME (on Linux); without HOME it reads none.
    let profile_files = var("HOME")
        .map(PathBuf::from)
        .map(|home| [home.join(".aws/config"), home.join(".aws/credentials")]);
    !profile_files.is_some_and(|files| files.iter().any(|f| exists(f)))
}

/// [`skip_default_chain`] for this process's environment and machine.
pub(crate) fn skip_default_chain_here() -> bool {
    skip_default_chain(
        |k| std::env::var(k).ok().filter(|v| !v.is_empty()),
        Path::exists,
        on_ec2(),
    )
}

/// Whether this machine is (or may be) an EC2 instance: its DMI vendor or BIOS names Amazon
/// (Nitro instances), or its Xen hypervisor id starts with `ec2` (older ones). Off Linux the
/// answer is yes, leaving the SDK's chain as it is.
fn on_ec2() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let amazon = [
        "/sys/devices/virtual/dmi/id/sys_vendor",
        "/sys/devices/virtual/dmi/id/bios_vendor",
        "/sys/devices/virtual/dmi/id/bios_version",
    ]
    .iter()
    .any(|path| read(path).to_ascii_lowercase().contains("amazon"));
    amazon
        || read("/sys/hypervisor/uuid")
            .to_ascii_lowercase()
            .starts_with("ec2")
}

/// The credential provider of clients for which [`skip_default_chain`] holds: it never has
/// credentials, and says so at once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoCredentialSource;

impl ProvideCredentials for NoCredentialSource {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no credential variable, no profile file, and not an EC2 instance",
        )))
    }
}

/// Whether `e` or one of its sources is the SDK's "no credentials were loaded" error.
pub(crate) fn is_missing(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(e) = current {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) = e.downcast_ref() {
            return true;
        }
        current = e.source();
    }
    false
}

/// What is missing and what to do, given the endpoint variable and its value when one is set.
pub(crate) fn missing_reason(endpoint: Option<(&str, &str)>) -> String {
    const NOT_FOUND: &str = "no AWS credentials were found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
                             AWS_PROFILE, or a role)";
    match endpoint {
        None => format!(
            "{NOT_FOUND} and no endpoint (LETSDATA_AWS_ENDPOINT or AWS_ENDPOINT_URL) is set: to \
             use AWS, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run \
             where a role provides credentials; to use an AWS-compatible service (an emulator), \
             set LETSDATA_AWS_ENDPOINT to its URL and credentials it accepts"
        ),
        Some((variable, url)) => format!(
            "{NOT_FOUND} for the endpoint {url} ({variable}): set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (an emulator accepts any values), or AWS_PROFILE"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn skip(vars: &[(&str, &str)], files: &[&str], on_ec2: bool) -> bool {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        skip_default_chain(
            |k| vars.get(k).cloned(),
            |p| files.iter().any(|f| Path::new(f) == p),
            on_ec2,
        )
    }

    #[test]
    fn only_imds_off_ec2_is_skipped() {
        assert!(skip(&[("HOME", "/home/u")], &[], false));
        assert!(skip(&[], &[], false), "no HOME: no profile file");
        assert!(
            skip(&[("HOME", "/home/u")], &["/home/other/.aws/config"], false),
            "another user's profile is not read"
        );
    }

    #[test]
    fn any_other_source_keeps_the_default_chain() {
        assert!(!skip(&[("HOME", "/home/u")], &[], true), "on EC2");
        for file in ["/home/u/.aws/config", "/home/u/.aws/credentials"] {
            assert!(!skip(&[("HOME", "/home/u")], &[file], false), "{file}");
        }
        for var in SOURCE_VARS {
            assert!(
                !skip(&[("HOME", "/home/u"), (var, "x")], &[], false),
                "{var}"
            );
        }
    }

    #[test]
    fn the_missing_credentials_error_is_found_among_the_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Wrapper(#[source] CredentialsError);
        let missing = Wrapper(CredentialsError::not_loaded("none"));
        assert!(is_missing(&missing));
        let failed = Wrapper(CredentialsError::provider_error("IMDS timed out"));
        assert!(!is_missing(&failed));
    }

    #[test]
    fn the_reason_names_the_variables_to_set() {
        let r = missing_reason(None);
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_PROFILE",
            "LETSDATA_AWS_ENDPOINT",
            "AWS_ENDPOINT_URL",
        ] {
            assert!(r.contains(name), "{name} in {r}");
        }
        let r = missing_reason(Some(("LETSDATA_AWS_ENDPOINT", "http://127.0.0.1:5055")));
        assert!(
            r.contains("for the endpoint http://127.0.0.1:5055 (LETSDATA_AWS_ENDPOINT)"),
            "{r}"
        );
    }
}
