//! Who owns a `LetsData` resource. letsdata tags what it creates with the dataset's id
//! ([`OWNER_TAG`]; local buckets keep the tag in a file beside them), and:
//! - provisioning uses an existing resource of the dataset's (generated) name only when it
//!   carries this dataset's tag (an earlier attempt of the same step created it) or is untagged
//!   and empty (an attempt that died between creating and tagging it; empty means nothing to
//!   lose); anything else is refused, so letsdata never writes into what it did not create;
//! - delete removes only a resource with this dataset's tag, or an untagged one when the
//!   dataset's provisioning step completed (the release before tags, and Kafka topics, which
//!   cannot carry tags: provisioning adopted them only when empty) or when it is empty. A
//!   resource with another dataset's tag, or an untagged one the dataset never provisioned, is
//!   left in place and the delete step says so.

use crate::ConnectorError;

/// The tag key letsdata puts on what it creates; its value is the dataset id.
pub const OWNER_TAG: &str = "letsdata:datasetId";

/// The dataset a `LetsData` resource is provisioned for, or deleted with.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    dataset_id: &'a str,
    provisioned: bool,
}

/// What an existing resource's tags say of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Tagged with this dataset's id.
    Ours,
    /// No [`OWNER_TAG`].
    Untagged,
    /// Tagged with another dataset's id.
    Other(String),
}

impl<'a> Owner<'a> {
    /// The owner `dataset_id`; `provisioned` when the dataset's step that provisions the
    /// resource completed.
    pub const fn new(dataset_id: &'a str, provisioned: bool) -> Self {
        Self {
            dataset_id,
            provisioned,
        }
    }

    /// The tag value: the dataset id.
    pub fn tag(&self) -> &'a str {
        self.dataset_id
    }

    /// What `tags` (key, value) say of the resource's owner.
    pub fn claim<K: AsRef<str>, V: AsRef<str>>(
        &self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Claim {
        match tags.into_iter().find(|(k, _)| k.as_ref() == OWNER_TAG) {
            Some((_, v)) if v.as_ref() == self.dataset_id => Claim::Ours,
            Some((_, v)) => Claim::Other(v.as_ref().to_string()),
            None => Claim::Untagged,
        }
    }

    /// Whether the existing resource `described` may be used; `empty` when it holds nothing.
    /// The error says why not and what to do.
    pub fn adopt(&self, described: &str, claim: &Claim, empty: bool) -> Result<(), ConnectorError> {
        let whose = match claim {
            Claim::Ours => return Ok(()),
            Claim::Untagged if empty => return Ok(()),
            Claim::Untagged => format!("it has no {OWNER_TAG} tag and is not empty"),
            Claim::Other(other) => format!("its {OWNER_TAG} tag names dataset {other}"),
        };
        Err(ConnectorError::User(format!(
            "{described} exists already and letsdata did not create it for this dataset \
             ({whose}); a LetsData resource is always one letsdata creates, never an existing \
             one: delete the dataset and create it again (the name changes with the dataset \
             id), or use resourceLocation Customer to write to an existing resource"
        )))
    }

    /// Whether delete may remove the resource; `None` when it may, else why not.
    pub fn refuse_delete(&self, claim: &Claim, empty: bool) -> Option<String> {
        match claim {
            Claim::Ours => None,
            Claim::Untagged if self.provisioned || empty => None,
            Claim::Untagged => Some(format!(
                "it has no {OWNER_TAG} tag and this dataset never provisioned it"
            )),
            Claim::Other(other) => Some(format!("its {OWNER_TAG} tag names dataset {other}")),
        }
    }
}

/// The delete step's message for a resource left in place.
pub fn left_in_place(described: &str, why: &str) -> String {
    format!("{described} left in place: {why}; letsdata deletes only what it created")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_datasets_tag_or_an_empty_untagged_resource_is_adopted() {
        let owner = Owner::new("id-1", false);
        assert_eq!(owner.claim([(OWNER_TAG, "id-1")]), Claim::Ours);
        assert_eq!(owner.claim([("team", "x")]), Claim::Untagged);
        assert_eq!(
            owner.claim([("team", "x"), (OWNER_TAG, "id-2")]),
            Claim::Other("id-2".into())
        );
        assert!(owner.adopt("stream s", &Claim::Ours, false).is_ok());
        assert!(owner.adopt("stream s", &Claim::Untagged, true).is_ok());
        let e = owner
            .adopt("stream s", &Claim::Untagged, false)
            .expect_err("untagged with content");
        assert!(e.to_string().contains("no letsdata:datasetId tag"), "{e}");
        let e = owner
            .adopt("stream s", &Claim::Other("id-2".into()), true)
            .expect_err("another dataset's");
        assert!(e.to_string().contains("names dataset id-2"), "{e}");
    }

    #[test]
    fn delete_removes_only_what_the_dataset_created() {
        let never = Owner::new("id-1", false);
        let provisioned = Owner::new("id-1", true);
        assert_eq!(never.refuse_delete(&Claim::Ours, false), None);
        assert_eq!(never.refuse_delete(&Claim::Untagged, true), None);
        assert!(never.refuse_delete(&Claim::Untagged, false).is_some());
        assert_eq!(provisioned.refuse_delete(&Claim::Untagged, false), None);
        assert!(
            provisioned
                .refuse_delete(&Claim::Other("id-2".into()), true)
                .is_some()
        );
    }
}
