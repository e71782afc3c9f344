//! The dataset lifecycle as a pure state machine: which [`DatasetAction`] is allowed in
//! which [`DatasetStatus`], and where it leads.
//!
//! Nothing here does IO. The service loads a dataset, calls [`next`] with its current
//! status and the requested action, and stores the returned status (with a conditional
//! write on the old one, so two concurrent requests cannot both win). A rejection is an
//! [`InvalidTransition`] whose `Display` is the message to show the user.
//!
//! # The graph
//!
//! The main line is driven by the system (initialization workflow, task state monitor):
//!
//! ```text
//!   CREATED --Initialize--> INITIALIZING --FinishInitialization--> PROCESSING
//!                                |                                  |      |
//!                                | FailInitialization               |      | CompleteProcessing
//!                                |                  ErrorProcessing |      | (all tasks done,
//!                                v                  (all tasks done,|      |  none errored)
//!                             ERRORED <---------- >= 1 errored) ----+      +--> COMPLETED
//! ```
//!
//! Every user request goes through a transient status, and the system's matching
//! `Finish*` action leaves it:
//!
//! ```text
//!   PROCESSING --Stop----------> STOPPING_ERROR    --FinishStop----> ERRORED
//!   PROCESSING --StopCompleted-> STOPPING_COMPLETE --FinishStop----> COMPLETED
//!
//!   PROCESSING | COMPLETED | ERRORED
//!              --UpdateCode | UpdateCompute--> UPDATING --FinishUpdate--> the status before
//!
//!   ERRORED    --Redrive-------> REDRIVING         --FinishRedrive-> PROCESSING
//!
//!   COMPLETED | ERRORED
//!              --Descale-------> DESCALING         --FinishDescale-> DESCALED
//!
//!   COMPLETED | ERRORED | DESCALED
//!              --Freeze--------> FREEZING          --FinishFreeze--> FROZEN
//!
//!   CREATED | PROCESSING | COMPLETED | ERRORED | DESCALED | FROZEN
//!              --Delete--------> DELETING          --FinishDelete--> DELETED
//! ```
//!
//! Every other (status, action) pair is rejected. The user actions allowed per status:
//!
//! | status | user actions |
//! |---|---|
//! | `CREATED` | delete |
//! | `INITIALIZING` | none |
//! | `PROCESSING` | update code, update compute, stop, delete |
//! | `COMPLETED` | update code, update compute, descale, freeze, delete |
//! | `ERRORED` | update code, update compute, redrive, descale, freeze, delete |
//! | `DESCALED` | freeze, delete |
//! | `FROZEN` | delete |
//! | `DELETED` | none |
//! | transient (`UPDATING`, `REDRIVING`, `STOPPING_*`, `DESCALING`, `FREEZING`, `DELETING`) | none ("busy") |
//!
//! # Decisions where the spec is silent
//!
//! * **Stop.** The user only ever asks to *stop*. Stopped tasks are not completed, so
//!   [`DatasetAction::Stop`] leads to `STOPPING_ERROR` and then `ERRORED` (the stopped
//!   tasks can later be redriven). `STOPPING_COMPLETE` is used only when task progress
//!   shows every task had already completed when the stop arrived (the task state monitor
//!   just had not yet moved the dataset to `COMPLETED`): the service then submits
//!   [`DatasetAction::StopCompleted`] instead. [`DatasetAction::stop`] picks between the
//!   two; `StopCompleted` is not a separate user action (it is not listed in
//!   [`allowed_actions`]) and is described as "stop" in messages.
//! * **Delete.** The spec says "any non-transient status". `DELETED` is excluded (already
//!   deleted), and so is `INITIALIZING`: the initialization workflow is still creating the
//!   very resources a delete reclaims, and a delete racing with it could leak whatever is
//!   created after the reclamation. The user waits until the dataset is `PROCESSING` or
//!   `ERRORED` and deletes then. Delete is allowed from `CREATED` (nothing provisioned
//!   yet; if the initializer races it, the conditional write lets only one of them win)
//!   and from `PROCESSING` (the delete workflow stops the running tasks).
//! * **Update.** `UPDATING` returns to the status the dataset had before the update, which
//!   the caller must pass as `previous` to [`next`] with [`DatasetAction::FinishUpdate`]
//!   (it must be `PROCESSING`, `COMPLETED` or `ERRORED`). If the tasks of a `PROCESSING`
//!   dataset all finish during the update, the monitor's `CompleteProcessing` /
//!   `ErrorProcessing` is rejected as busy and must be retried once the update finishes.
//! * **Transient statuses.** While a dataset is in a transient status, every action other
//!   than that status's own `Finish*` is rejected with [`Rejection::Busy`] — including
//!   system actions, which must wait and retry.
//! * `INITIALIZING` is a working status, not a transient one in the spec's sense; it
//!   accepts no user action, only `FinishInitialization` / `FailInitialization`.

use crate::status::DatasetStatus;
use std::fmt;

/// What a user or the system does to a dataset.
///
/// User actions (see [`DatasetAction::is_user_action`]) are the CLI/API requests; the
/// others are submitted by the system's workflows and monitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetAction {
    /// System: the initializer picks up a `CREATED` dataset.
    Initialize,
    /// System: the initialization workflow completed; tasks start.
    FinishInitialization,
    /// System: an initialization step failed unrecoverably.
    FailInitialization,
    /// System: all tasks are done and none errored.
    CompleteProcessing,
    /// System: all tasks are done and at least one errored.
    ErrorProcessing,
    /// User: update the implementation (jar / image).
    UpdateCode,
    /// User: update the compute configuration (concurrency, timeout, memory, log level).
    UpdateCompute,
    /// System: the update workflow finished; the dataset returns to its previous status.
    FinishUpdate,
    /// User: redrive the errored tasks.
    Redrive,
    /// System: the redrive workflow finished; `REDRIVING` → `PROCESSING`.
    FinishRedrive,
    /// User: stop the running tasks (→ `STOPPING_ERROR`).
    Stop,
    /// A user's stop request when every task had already completed (→ `STOPPING_COMPLETE`).
    /// Chosen by the service via [`DatasetAction::stop`]; not listed as a separate user action.
    StopCompleted,
    /// System: the running tasks are stopped.
    FinishStop,
    /// User: descale the dataset's resources.
    Descale,
    /// System: the descale workflow finished.
    FinishDescale,
    /// User: freeze the dataset (reclaim non-user-data infrastructure).
    Freeze,
    /// System: the freeze workflow finished.
    FinishFreeze,
    /// User: delete the dataset.
    Delete,
    /// System: the delete workflow finished.
    FinishDelete,
}

impl DatasetAction {
    /// Every action, in declaration order.
    pub const ALL: [DatasetAction; 19] = [
        Self::Initialize,
        Self::FinishInitialization,
        Self::FailInitialization,
        Self::CompleteProcessing,
        Self::ErrorProcessing,
        Self::UpdateCode,
        Self::UpdateCompute,
        Self::FinishUpdate,
        Self::Redrive,
        Self::FinishRedrive,
        Self::Stop,
        Self::StopCompleted,
        Self::FinishStop,
        Self::Descale,
        Self::FinishDescale,
        Self::Freeze,
        Self::FinishFreeze,
        Self::Delete,
        Self::FinishDelete,
    ];

    /// Lowercase, user-facing wording, fitting "cannot {describe} dataset ...".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Initialize => "initialize",
            Self::FinishInitialization => "finish initializing",
            Self::FailInitialization => "fail initializing",
            Self::CompleteProcessing => "complete processing",
            Self::ErrorProcessing => "fail processing",
            Self::UpdateCode => "update code",
            Self::UpdateCompute => "update compute",
            Self::FinishUpdate => "finish updating",
            Self::Redrive => "redrive",
            Self::FinishRedrive => "finish redriving",
            Self::Stop | Self::StopCompleted => "stop",
            Self::FinishStop => "finish stopping",
            Self::Descale => "descale",
            Self::FinishDescale => "finish descaling",
            Self::Freeze => "freeze",
            Self::FinishFreeze => "finish freezing",
            Self::Delete => "delete",
            Self::FinishDelete => "finish deleting",
        }
    }

    /// Whether this is an action a user names in a CLI/API request. These are what
    /// [`allowed_actions`] lists. `StopCompleted` is not one: the user asks to `Stop` and
    /// the service refines it (see [`DatasetAction::stop`]).
    pub fn is_user_action(self) -> bool {
        matches!(
            self,
            Self::UpdateCode
                | Self::UpdateCompute
                | Self::Redrive
                | Self::Stop
                | Self::Descale
                | Self::Freeze
                | Self::Delete
        )
    }

    /// The action for a user's stop request: `StopCompleted` when task progress shows
    /// every task already completed, `Stop` otherwise.
    pub fn stop(all_tasks_completed: bool) -> Self {
        if all_tasks_completed {
            Self::StopCompleted
        } else {
            Self::Stop
        }
    }
}

impl fmt::Display for DatasetAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Why a transition was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The action is not allowed in this (non-transient) status.
    NotAllowed,
    /// The dataset is in a transient status; only its own `Finish*` action is accepted.
    Busy,
    /// `FinishUpdate` without the status the dataset had before `UPDATING`.
    MissingPrevious,
    /// `FinishUpdate` with a previous status `UPDATING` cannot return to.
    InvalidPrevious(DatasetStatus),
}

/// A rejected transition. `Display` is the user-facing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTransition {
    /// The dataset's current status.
    pub status: DatasetStatus,
    /// The rejected action.
    pub action: DatasetAction,
    /// The user actions allowed in `status` (see [`allowed_actions`]).
    pub allowed: Vec<DatasetAction>,
    pub reason: Rejection,
}

impl InvalidTransition {
    fn new(status: DatasetStatus, action: DatasetAction, reason: Rejection) -> Self {
        Self {
            status,
            action,
            allowed: allowed_actions(status),
            reason,
        }
    }
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status;
        let action = self.action;
        match self.reason {
            Rejection::NotAllowed => {
                write!(
                    f,
                    "cannot {action} dataset in status {status}; allowed actions in {status}: "
                )?;
                if self.allowed.is_empty() {
                    f.write_str("none")
                } else {
                    let names: Vec<&str> = self.allowed.iter().map(|a| a.describe()).collect();
                    f.write_str(&names.join(", "))
                }
            }
            Rejection::Busy => write!(
                f,
                "dataset is {status} (a transient status): no other action is allowed until it finishes"
            ),
            Rejection::MissingPrevious => write!(
                f,
                "cannot {action} dataset in status {status}: the status it had before the update is required"
            ),
            Rejection::InvalidPrevious(previous) => write!(
                f,
                "cannot {action} dataset in status {status}: it can only return to {}, {} or {}, not {previous}",
                DatasetStatus::Processing,
                DatasetStatus::Completed,
                DatasetStatus::Errored,
            ),
        }
    }
}

impl std::error::Error for InvalidTransition {}

/// Whether `status` is one of the transient statuses, in which no concurrent action is
/// allowed: `UPDATING`, `REDRIVING`, `STOPPING_ERROR`, `STOPPING_COMPLETE`, `DESCALING`,
/// `FREEZING`, `DELETING`.
pub fn is_transient(status: DatasetStatus) -> bool {
    use DatasetStatus as S;
    matches!(
        status,
        S::Updating
            | S::Redriving
            | S::StoppingError
            | S::StoppingComplete
            | S::Descaling
            | S::Freezing
            | S::Deleting
    )
}

/// The status `action` moves a dataset in `status` to.
///
/// `previous` is only read for [`DatasetAction::FinishUpdate`]: it is the status the
/// dataset had before it entered `UPDATING` (`PROCESSING`, `COMPLETED` or `ERRORED`),
/// which is where it returns. For every other action it is ignored.
pub fn next(
    status: DatasetStatus,
    action: DatasetAction,
    previous: Option<DatasetStatus>,
) -> Result<DatasetStatus, InvalidTransition> {
    transition(status, action, previous)
        .map_err(|reason| InvalidTransition::new(status, action, reason))
}

/// The user actions (see [`DatasetAction::is_user_action`]) allowed in `status`, in
/// [`DatasetAction::ALL`] order. Empty for transient statuses, `INITIALIZING` and `DELETED`.
pub fn allowed_actions(status: DatasetStatus) -> Vec<DatasetAction> {
    DatasetAction::ALL
        .into_iter()
        // No user action reads `previous`.
        .filter(|a| a.is_user_action() && transition(status, *a, None).is_ok())
        .collect()
}

/// The graph itself. Separate from [`next`] so that [`allowed_actions`] (which building
/// an [`InvalidTransition`] calls) does not build errors itself.
fn transition(
    status: DatasetStatus,
    action: DatasetAction,
    previous: Option<DatasetStatus>,
) -> Result<DatasetStatus, Rejection> {
    use DatasetAction as A;
    use DatasetStatus as S;
    let target = match (status, action) {
        (S::Created, A::Initialize) => S::Initializing,
        (S::Initializing, A::FinishInitialization) => S::Processing,
        (S::Initializing, A::FailInitialization) => S::Errored,
        (S::Processing, A::CompleteProcessing) => S::Completed,
        (S::Processing, A::ErrorProcessing) => S::Errored,

        (S::Processing, A::Stop) => S::StoppingError,
        (S::Processing, A::StopCompleted) => S::StoppingComplete,
        (S::StoppingError, A::FinishStop) => S::Errored,
        (S::StoppingComplete, A::FinishStop) => S::Completed,

        (S::Processing | S::Completed | S::Errored, A::UpdateCode | A::UpdateCompute) => {
            S::Updating
        }
        (S::Updating, A::FinishUpdate) => match previous {
            Some(p @ (S::Processing | S::Completed | S::Errored)) => p,
            Some(p) => return Err(Rejection::InvalidPrevious(p)),
            None => return Err(Rejection::MissingPrevious),
        },

        (S::Errored, A::Redrive) => S::Redriving,
        (S::Redriving, A::FinishRedrive) => S::Processing,

        (S::Completed | S::Errored, A::Descale) => S::Descaling,
        (S::Descaling, A::FinishDescale) => S::Descaled,

        (S::Completed | S::Errored | S::Descaled, A::Freeze) => S::Freezing,
        (S::Freezing, A::FinishFreeze) => S::Frozen,

        (
            S::Created | S::Processing | S::Completed | S::Errored | S::Descaled | S::Frozen,
            A::Delete,
        ) => S::Deleting,
        (S::Deleting, A::FinishDelete) => S::Deleted,

        _ if is_transient(status) => return Err(Rejection::Busy),
        _ => return Err(Rejection::NotAllowed),
    };
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DatasetAction as A;
    use DatasetStatus as S;

    /// One cell of the expected table.
    #[derive(Debug, Clone, Copy)]
    enum Cell {
        /// Rejected.
        No,
        /// Accepted, leading to this status.
        To(DatasetStatus),
        /// Accepted, leading back to the status before `UPDATING`.
        Prev,
    }

    // Legend for the table below.
    const __: Cell = Cell::No;
    const PREV: Cell = Cell::Prev;
    const INI: Cell = Cell::To(S::Initializing);
    const PRO: Cell = Cell::To(S::Processing);
    const COM: Cell = Cell::To(S::Completed);
    const ERR: Cell = Cell::To(S::Errored);
    const DSD: Cell = Cell::To(S::Descaled);
    const FRZ: Cell = Cell::To(S::Frozen);
    const DEL: Cell = Cell::To(S::Deleted);
    const UPD: Cell = Cell::To(S::Updating);
    const RDV: Cell = Cell::To(S::Redriving);
    const STE: Cell = Cell::To(S::StoppingError);
    const STC: Cell = Cell::To(S::StoppingComplete);
    const DSG: Cell = Cell::To(S::Descaling);
    const FZG: Cell = Cell::To(S::Freezing);
    const DLG: Cell = Cell::To(S::Deleting);

    /// Every (status, action) pair. Rows follow `DatasetStatus::ALL`, columns
    /// `DatasetAction::ALL`:
    ///
    /// Ini = Initialize, FIn = FinishInitialization, FlI = FailInitialization,
    /// CPr = CompleteProcessing, EPr = ErrorProcessing, UCd = UpdateCode,
    /// UCm = UpdateCompute, FUp = FinishUpdate, Rdv = Redrive, FRd = FinishRedrive,
    /// Stp = Stop, StC = StopCompleted, FSt = FinishStop, Dsc = Descale,
    /// FDs = FinishDescale, Frz = Freeze, FFz = FinishFreeze, Del = Delete,
    /// FDl = FinishDelete.
    #[rustfmt::skip]
    const TABLE: [(DatasetStatus, [Cell; 19]); 15] = [
        //                      Ini  FIn  FlI  CPr  EPr  UCd  UCm  FUp   Rdv  FRd  Stp  StC  FSt  Dsc  FDs  Frz  FFz  Del  FDl
        (S::Created,           [INI, __,  __,  __,  __,  __,  __,  __,   __,  __,  __,  __,  __,  __,  __,  __,  __,  DLG, __ ]),
        (S::Initializing,      [__,  PRO, ERR, __,  __,  __,  __,  __,   __,  __,  __,  __,  __,  __,  __,  __,  __,  __,  __ ]),
        (S::Processing,        [__,  __,  __,  COM, ERR, UPD, UPD, __,   __,  __,  STE, STC, __,  __,  __,  __,  __,  DLG, __ ]),
        (S::Completed,         [__,  __,  __,  __,  __,  UPD, UPD, __,   __,  __,  __,  __,  __,  DSG, __,  FZG, __,  DLG, __ ]),
        (S::Errored,           [__,  __,  __,  __,  __,  UPD, UPD, __,   RDV, __,  __,  __,  __,  DSG, __,  FZG, __,  DLG, __ ]),
        (S::Descaled,          [__,  __,  __,  __,  __,  __,  __,  __,   __,  __,  __,  __,  __,  __,  __,  FZG, __,  DLG, __ ]),
        (S::Frozen,            [__,  __,  __,  __,  __,  __,  __,  __,   __,  __,  __,  __,  __,  __,  __,  __,  __,  DLG, __ ]),
        (S::Deleted,           [__,  __,  __,  __,  __,  __,  __,  __,   __,  __,  __,  __,  __,  __,  __,  __,  __,  __,  __ ]),
        (S::Updating,          [__,  __,  __,  __,  __,  __,  __,  PREV, __,  __,  __,  __,  __,  __,  __,  __,  __,  __,  __ ]),
        (S::Redriving,         [__,  __,  __,  __,  __,  __,  __,  __,   __,  PRO, __,  __,  __,  __,  __,  __,  __,  __,  __ ]),
        (S::StoppingError,     [__,  __,  __,  __,  __,  __,  __,  __,   __,  __,  __,  __,  ERR, __,  __,  __,  __,  __,  __ ]),
        (S::StoppingComplete,  [__,  __,  __,  __,  __,  __,  __,  __,   __,  __,  __,  __,  COM, __,  __,  __,  __,  __,  __ ]),
        (S::Descaling,         [__,  __,  __,  __,  __,  __,  __,  __,   __,  __,  __,  __,  __,  __,  DSD, __,  __,  __,  __ ]),
        (S::Freezing,          [__,  __,  __,  __,  __,  __,  __,  __,   __,  __,  __,  __,  __,  __,  __,  __,  FRZ, __,  __ ]),
        (S::Deleting,          [__,  __,  __,  __,  __,  __,  __,  __,   __,  __,  __,  __,  __,  __,  __,  __,  __,  __,  DEL]),
    ];

    /// The statuses `UPDATING` can return to.
    const UPDATABLE: [DatasetStatus; 3] = [S::Processing, S::Completed, S::Errored];

    fn cell(status: DatasetStatus, action: DatasetAction) -> Cell {
        let row = TABLE
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, row)| row)
            .expect("every status has a row");
        let col = DatasetAction::ALL
            .iter()
            .position(|a| *a == action)
            .expect("every action is in ALL");
        row[col]
    }

    /// The user actions the table accepts in `status`, in column order.
    fn expected_allowed(status: DatasetStatus) -> Vec<DatasetAction> {
        DatasetAction::ALL
            .into_iter()
            .filter(|a| a.is_user_action() && !matches!(cell(status, *a), Cell::No))
            .collect()
    }

    fn expected_rejection_message(status: DatasetStatus, action: DatasetAction) -> String {
        if is_transient(status) {
            format!(
                "dataset is {status} (a transient status): no other action is allowed until it finishes"
            )
        } else {
            let allowed: Vec<&str> = expected_allowed(status)
                .into_iter()
                .map(DatasetAction::describe)
                .collect();
            let allowed = if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            };
            format!(
                "cannot {} dataset in status {status}; allowed actions in {status}: {allowed}",
                action.describe()
            )
        }
    }

    #[test]
    fn table_covers_every_status_in_order() {
        let rows: Vec<DatasetStatus> = TABLE.iter().map(|(s, _)| *s).collect();
        assert_eq!(rows, DatasetStatus::ALL.to_vec());
    }

    #[test]
    fn every_status_action_pair_matches_the_table() {
        let mut accepted = 0;
        for status in DatasetStatus::ALL {
            for action in DatasetAction::ALL {
                match cell(status, action) {
                    Cell::To(target) => {
                        accepted += 1;
                        // `previous` is ignored outside FinishUpdate.
                        for previous in [None, Some(S::Frozen), Some(S::Processing)] {
                            assert_eq!(
                                next(status, action, previous),
                                Ok(target),
                                "{status} --{action:?}--> (previous {previous:?})"
                            );
                        }
                    }
                    Cell::Prev => {
                        accepted += 1;
                        for previous in UPDATABLE {
                            assert_eq!(next(status, action, Some(previous)), Ok(previous));
                        }
                    }
                    Cell::No => {
                        for previous in [None, Some(S::Processing)] {
                            let err = next(status, action, previous)
                                .expect_err(&format!("{status} --{action:?}--> must be rejected"));
                            assert_eq!(err.status, status);
                            assert_eq!(err.action, action);
                            assert_eq!(err.allowed, expected_allowed(status));
                            let reason = if is_transient(status) {
                                Rejection::Busy
                            } else {
                                Rejection::NotAllowed
                            };
                            assert_eq!(err.reason, reason, "{status} --{action:?}-->");
                            let message = err.to_string();
                            assert_eq!(message, expected_rejection_message(status, action));
                            assert!(message.contains(status.as_str()), "{message}");
                            for a in &err.allowed {
                                assert!(message.contains(a.describe()), "{message}");
                            }
                        }
                    }
                }
            }
        }
        // The documented edges, counting each multi-source edge once per source:
        // CREATED 2, INITIALIZING 2, PROCESSING 7, COMPLETED 5, ERRORED 6, DESCALED 2,
        // FROZEN 1, DELETED 0, one per transient status 7.
        assert_eq!(accepted, 32);
    }

    #[test]
    fn allowed_actions_match_the_table_and_the_doc() {
        for status in DatasetStatus::ALL {
            assert_eq!(
                allowed_actions(status),
                expected_allowed(status),
                "{status}"
            );
        }
        let described = |s: DatasetStatus| -> Vec<&str> {
            allowed_actions(s)
                .into_iter()
                .map(DatasetAction::describe)
                .collect()
        };
        assert_eq!(described(S::Created), ["delete"]);
        assert!(described(S::Initializing).is_empty());
        assert_eq!(
            described(S::Processing),
            ["update code", "update compute", "stop", "delete"]
        );
        assert_eq!(
            described(S::Completed),
            [
                "update code",
                "update compute",
                "descale",
                "freeze",
                "delete"
            ]
        );
        assert_eq!(
            described(S::Errored),
            [
                "update code",
                "update compute",
                "redrive",
                "descale",
                "freeze",
                "delete"
            ]
        );
        assert_eq!(described(S::Descaled), ["freeze", "delete"]);
        assert_eq!(described(S::Frozen), ["delete"]);
        assert!(described(S::Deleted).is_empty());
    }

    #[test]
    fn user_actions_are_the_cli_requests() {
        let user: Vec<DatasetAction> = DatasetAction::ALL
            .into_iter()
            .filter(|a| a.is_user_action())
            .collect();
        assert_eq!(
            user,
            [
                A::UpdateCode,
                A::UpdateCompute,
                A::Redrive,
                A::Stop,
                A::Descale,
                A::Freeze,
                A::Delete
            ]
        );
    }

    #[test]
    fn rejection_messages_read_well() {
        let err = next(S::Processing, A::Redrive, None).expect_err("redrive needs ERRORED");
        assert_eq!(
            err.to_string(),
            "cannot redrive dataset in status PROCESSING; allowed actions in PROCESSING: update code, update compute, stop, delete"
        );
        let err = next(S::Initializing, A::Delete, None).expect_err("no delete while initializing");
        assert_eq!(
            err.to_string(),
            "cannot delete dataset in status INITIALIZING; allowed actions in INITIALIZING: none"
        );
        let err = next(S::Redriving, A::Stop, None).expect_err("busy");
        assert_eq!(
            err.to_string(),
            "dataset is REDRIVING (a transient status): no other action is allowed until it finishes"
        );
        let err = next(S::Completed, A::StopCompleted, None).expect_err("nothing to stop");
        assert!(
            err.to_string()
                .starts_with("cannot stop dataset in status COMPLETED;")
        );
    }

    #[test]
    fn updating_returns_to_each_previous_status() {
        for before in UPDATABLE {
            for update in [A::UpdateCode, A::UpdateCompute] {
                let during = next(before, update, None);
                assert_eq!(during, Ok(S::Updating));
                assert_eq!(next(S::Updating, A::FinishUpdate, Some(before)), Ok(before));
            }
        }
        let err = next(S::Updating, A::FinishUpdate, None).expect_err("previous is required");
        assert_eq!(err.reason, Rejection::MissingPrevious);
        assert!(err.to_string().contains("before the update"), "{err}");
        for previous in DatasetStatus::ALL {
            if UPDATABLE.contains(&previous) {
                continue;
            }
            let err = next(S::Updating, A::FinishUpdate, Some(previous))
                .expect_err("cannot return to a status UPDATING is never entered from");
            assert_eq!(err.reason, Rejection::InvalidPrevious(previous));
            assert!(
                err.to_string()
                    .ends_with(&format!("PROCESSING, COMPLETED or ERRORED, not {previous}")),
                "{err}"
            );
        }
    }

    #[test]
    fn transient_statuses_are_busy_for_every_user_action() {
        let transient: Vec<DatasetStatus> = DatasetStatus::ALL
            .into_iter()
            .filter(|s| is_transient(*s))
            .collect();
        assert_eq!(
            transient,
            [
                S::Updating,
                S::Redriving,
                S::StoppingError,
                S::StoppingComplete,
                S::Descaling,
                S::Freezing,
                S::Deleting
            ]
        );
        for status in transient {
            assert!(allowed_actions(status).is_empty());
            for action in DatasetAction::ALL
                .into_iter()
                .filter(|a| a.is_user_action())
            {
                let err = next(status, action, None).expect_err("busy");
                assert_eq!(err.reason, Rejection::Busy);
                assert_eq!(
                    err.to_string(),
                    format!(
                        "dataset is {status} (a transient status): no other action is allowed until it finishes"
                    )
                );
            }
        }
    }

    #[test]
    fn stop_picks_the_stopping_status_from_task_progress() {
        assert_eq!(DatasetAction::stop(false), A::Stop);
        assert_eq!(DatasetAction::stop(true), A::StopCompleted);
        assert_eq!(A::StopCompleted.describe(), A::Stop.describe());
        let stopping = next(S::Processing, DatasetAction::stop(false), None);
        assert_eq!(stopping, Ok(S::StoppingError));
        assert_eq!(next(S::StoppingError, A::FinishStop, None), Ok(S::Errored));
        let stopping = next(S::Processing, DatasetAction::stop(true), None);
        assert_eq!(stopping, Ok(S::StoppingComplete));
        assert_eq!(
            next(S::StoppingComplete, A::FinishStop, None),
            Ok(S::Completed)
        );
    }

    #[test]
    fn a_full_life_walks_through_the_graph() {
        let steps = [
            (A::Initialize, S::Initializing),
            (A::FinishInitialization, S::Processing),
            (A::ErrorProcessing, S::Errored),
            (A::Redrive, S::Redriving),
            (A::FinishRedrive, S::Processing),
            (A::CompleteProcessing, S::Completed),
            (A::Descale, S::Descaling),
            (A::FinishDescale, S::Descaled),
            (A::Freeze, S::Freezing),
            (A::FinishFreeze, S::Frozen),
            (A::Delete, S::Deleting),
            (A::FinishDelete, S::Deleted),
        ];
        let mut status = S::Created;
        for (action, expected) in steps {
            status = next(status, action, None).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(status, expected);
        }
    }
}
