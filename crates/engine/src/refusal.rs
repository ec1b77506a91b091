//! Refusals: every command the engine declines, with a machine code and a reason a
//! person can read. Refusals are values, never panics.

use crate::ids::{CitizenId, Day, GroupId, IncidentId, KolId, ProductId, ReportId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    #[error("no citizen {citizen}")]
    UnknownCitizen { citizen: CitizenId },
    #[error("no group {group}")]
    UnknownGroup { group: GroupId },
    #[error("no product {product} in the catalogue")]
    UnknownProduct { product: ProductId },
    #[error("no KOL {kol}")]
    UnknownKol { kol: KolId },
    #[error("no incident {incident}")]
    UnknownIncident { incident: IncidentId },
    #[error("no incident kind {kind:?}; known kinds: {known}")]
    UnknownIncidentKind { kind: String, known: String },

    #[error(
        "citizen {citizen} is banned from travel: tier {tier} (score {score}) carries the travel restriction; \
         a score of {score_needed} would lift it"
    )]
    TravelBanned { citizen: CitizenId, tier: String, score: i32, score_needed: i32 },
    #[error("an order is for 1 to {max} units, not {units}")]
    InvalidUnits { units: u32, max: u32 },
    #[error("citizen {citizen} already placed {max} orders today, the daily limit")]
    TooManyOrders { citizen: CitizenId, max: u32 },
    #[error("citizen {citizen} does not follow KOL {kol}: buying in place goes through a KOL one follows")]
    NotFollowing { citizen: CitizenId, kol: KolId },
    #[error("KOL {kol} is not promoting product {product} today")]
    PromotionNotActive { kol: KolId, product: ProductId },
    #[error("KOL {kol} already promotes product {product} today")]
    AlreadyPromoted { kol: KolId, product: ProductId },

    #[error("the incident is dated day {incident_day}, after today (day {today})")]
    IncidentInFuture { incident_day: Day, today: Day },
    #[error("citizen {citizen} already has {max} incidents reported today, the daily limit")]
    TooManyIncidents { citizen: CitizenId, max: u32 },

    #[error("there is no notice about {incident} for citizen {citizen}: only the offender's group-mates receive it")]
    NotARecipient { incident: IncidentId, citizen: CitizenId },
    #[error("citizen {citizen} already answered the notice about {incident}")]
    AlreadyAnswered { incident: IncidentId, citizen: CitizenId },
    #[error("the notice about {incident} closed at the end of day {deadline}; answers are no longer taken")]
    DeadlinePassed { incident: IncidentId, deadline: Day },
    #[error("the notices about {incident} go out when day {day} closes; nothing to answer yet")]
    NoticeNotDelivered { incident: IncidentId, day: Day },

    #[error("citizen {citizen} is already in group {group}")]
    AlreadyInGroup { citizen: CitizenId, group: GroupId },
    #[error("citizen {citizen} is in no group")]
    NotInGroup { citizen: CitizenId },
    #[error("group {group} is full ({max} members)")]
    GroupFull { group: GroupId, max: u32 },

    #[error("only the citizen concerned ({offender}) may appeal incident {incident}")]
    AppealNotByOffender { incident: IncidentId, offender: CitizenId },
    #[error("incident {incident} has already been appealed")]
    AppealAlreadyFiled { incident: IncidentId },
    #[error("incident {incident} can be appealed until day {last_day}; today is day {today}")]
    AppealWindowClosed { incident: IncidentId, last_day: Day, today: Day },
    #[error("incident {incident} has no appeal to decide")]
    AppealNotFiled { incident: IncidentId },
    #[error("the appeal of incident {incident} was already decided")]
    AppealAlreadyDecided { incident: IncidentId },

    #[error("denunciation is switched off by the policy")]
    DenunciationDisabled,
    #[error("citizen {citizen} cannot report themselves")]
    SelfReport { citizen: CitizenId },
    #[error("citizen {accused} is not in citizen {citizen}'s group: one reports one's own group-mates")]
    NotInYourGroup { citizen: CitizenId, accused: CitizenId },
    #[error("citizen {citizen} already filed {max} reports today, the daily limit")]
    TooManyReports { citizen: CitizenId, max: u32 },
    #[error("no report {report}")]
    UnknownReport { report: ReportId },
    #[error("report {report} was already decided")]
    ReportAlreadyDecided { report: ReportId },

    #[error("invalid {field}: {reason}")]
    InvalidValue { field: String, reason: String },
    #[error("limit reached: {what} (at most {max})")]
    LimitReached { what: String, max: u64 },
    #[error("{what} is not possible here: {reason}")]
    Unsupported { what: String, reason: String },
}

impl Refusal {
    /// The stable machine code of the refusal (snake_case), as in the serialized form.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownCitizen { .. } => "unknown_citizen",
            Refusal::UnknownGroup { .. } => "unknown_group",
            Refusal::UnknownProduct { .. } => "unknown_product",
            Refusal::UnknownKol { .. } => "unknown_kol",
            Refusal::UnknownIncident { .. } => "unknown_incident",
            Refusal::UnknownIncidentKind { .. } => "unknown_incident_kind",
            Refusal::TravelBanned { .. } => "travel_banned",
            Refusal::InvalidUnits { .. } => "invalid_units",
            Refusal::TooManyOrders { .. } => "too_many_orders",
            Refusal::NotFollowing { .. } => "not_following",
            Refusal::PromotionNotActive { .. } => "promotion_not_active",
            Refusal::AlreadyPromoted { .. } => "already_promoted",
            Refusal::IncidentInFuture { .. } => "incident_in_future",
            Refusal::TooManyIncidents { .. } => "too_many_incidents",
            Refusal::NotARecipient { .. } => "not_a_recipient",
            Refusal::AlreadyAnswered { .. } => "already_answered",
            Refusal::DeadlinePassed { .. } => "deadline_passed",
            Refusal::NoticeNotDelivered { .. } => "notice_not_delivered",
            Refusal::AlreadyInGroup { .. } => "already_in_group",
            Refusal::NotInGroup { .. } => "not_in_group",
            Refusal::GroupFull { .. } => "group_full",
            Refusal::AppealNotByOffender { .. } => "appeal_not_by_offender",
            Refusal::AppealAlreadyFiled { .. } => "appeal_already_filed",
            Refusal::AppealWindowClosed { .. } => "appeal_window_closed",
            Refusal::AppealNotFiled { .. } => "appeal_not_filed",
            Refusal::AppealAlreadyDecided { .. } => "appeal_already_decided",
            Refusal::DenunciationDisabled => "denunciation_disabled",
            Refusal::SelfReport { .. } => "self_report",
            Refusal::NotInYourGroup { .. } => "not_in_your_group",
            Refusal::TooManyReports { .. } => "too_many_reports",
            Refusal::UnknownReport { .. } => "unknown_report",
            Refusal::ReportAlreadyDecided { .. } => "report_already_decided",
            Refusal::InvalidValue { .. } => "invalid_value",
            Refusal::LimitReached { .. } => "limit_reached",
            Refusal::Unsupported { .. } => "unsupported",
        }
    }

    /// Whether the refusal means "this thing does not exist" (an HTTP 404 rather than 409/422).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Refusal::UnknownCitizen { .. }
                | Refusal::UnknownGroup { .. }
                | Refusal::UnknownProduct { .. }
                | Refusal::UnknownKol { .. }
                | Refusal::UnknownIncident { .. }
                | Refusal::UnknownReport { .. }
        )
    }
}
