//! Group membership.

use crate::error::AuthError;
use crate::service::AuthService;
use tusk_core::auth;
use tusk_store::GroupMembership;

/// Group names are not validated by the reference, but are bounded like
/// principals, since they are stored in every member's record.
fn check_group(group: &str) -> Result<(), AuthError> {
    if group.len() > auth::MAX_SUBJECT_BYTES {
        return Err(AuthError::Other(auth::too_long(
            "group",
            group.len(),
            auth::MAX_SUBJECT_BYTES,
        )));
    }
    Ok(())
}

/// The auth-plane principals of an IdP's group names: `g` → `group:g`
/// (docs/auth-model.md §7), for logins and refreshes alike.
pub(crate) fn group_principals(groups: &[String]) -> Vec<String> {
    groups.iter().map(|g| format!("group:{g}")).collect()
}

impl AuthService {
    pub async fn set_groups_for_user(
        &self,
        username: &str,
        groups: &[String],
    ) -> Result<(), AuthError> {
        auth::check_subject(username).map_err(AuthError::Other)?;
        for g in groups {
            check_group(g)?;
        }
        let record = GroupMembership {
            id: username.to_owned(),
            groups: groups.iter().cloned().collect(),
        };
        if record.groups.is_empty() {
            self.delete_quietly::<GroupMembership>(username).await?;
        } else {
            self.store.put(&record).await?;
        }
        self.changed(
            <GroupMembership as tusk_store::Record>::KIND,
            Some(username),
        );
        Ok(())
    }

    pub async fn modify_members(
        &self,
        group: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), AuthError> {
        check_group(group)?;
        for s in add.iter().chain(remove) {
            auth::check_subject(s).map_err(AuthError::Other)?;
        }
        for (subjects, adding) in [(add, true), (remove, false)] {
            for subject in subjects {
                let mut m = match self.store.get::<GroupMembership>(subject).await {
                    Ok(m) => m,
                    Err(tusk_store::Error::NotFound { .. }) => GroupMembership {
                        id: subject.clone(),
                        ..Default::default()
                    },
                    Err(e) => return Err(e.into()),
                };
                if adding {
                    m.groups.insert(group.to_owned());
                } else {
                    m.groups.remove(group);
                }
                if m.groups.is_empty() {
                    self.delete_quietly::<GroupMembership>(subject).await?;
                } else {
                    self.store.put(&m).await?;
                }
                self.changed(<GroupMembership as tusk_store::Record>::KIND, Some(subject));
            }
        }
        Ok(())
    }

    pub async fn groups_of(&self, subject: &str) -> Result<Vec<String>, AuthError> {
        Ok(self.cache.groups(subject).await?.to_vec())
    }

    pub async fn users_in(&self, group: &str) -> Result<Vec<String>, AuthError> {
        let all = self.store.list::<GroupMembership>().await?;
        Ok(all
            .into_iter()
            .filter(|m| group.is_empty() || m.groups.contains(group))
            .map(|m| m.id)
            .collect())
    }
}
