//! Commands as values: what the service logs and replays, and what property tests
//! generate. [`Engine::apply`] routes each to its method.

use crate::directory::Directory;
use crate::engine::{DayReport, Engine, OrderReceipt};
use crate::ids::{CitizenId, Day, GroupId, IncidentId, KolId, ProductId, PromotionId, ReportId};
use crate::ledger::Answer;
use crate::refusal::Refusal;
use crate::state::ProductSpec;
use serde::{Deserialize, Serialize};

/// Everything that can change the engine's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    RegisterCitizen,
    CreateGroup,
    AssignGroup {
        citizen: CitizenId,
        group: GroupId,
    },
    RemoveFromGroup {
        citizen: CitizenId,
    },
    AddProduct {
        spec: ProductSpec,
    },
    AddKol {
        name: String,
    },
    Follow {
        citizen: CitizenId,
        kol: KolId,
    },
    Unfollow {
        citizen: CitizenId,
        kol: KolId,
    },
    SetFavourites {
        citizen: CitizenId,
        products: Vec<ProductId>,
    },
    SetInterests {
        citizen: CitizenId,
        interests: Vec<f32>,
    },
    Promote {
        kol: KolId,
        product: ProductId,
    },
    PlaceOrder {
        citizen: CitizenId,
        product: ProductId,
        units: u32,
        via: Option<KolId>,
    },
    /// `day`: when the incident happened (default: today).
    ReportIncident {
        citizen: CitizenId,
        kind: String,
        day: Option<Day>,
    },
    AnswerNotice {
        citizen: CitizenId,
        incident: IncidentId,
        answer: Answer,
    },
    FileAppeal {
        citizen: CitizenId,
        incident: IncidentId,
    },
    DecideAppeal {
        incident: IncidentId,
        granted: bool,
    },
    RevealScandal {
        product: ProductId,
    },
    /// A citizen reports a group-mate (`day`: of the alleged incident, default today).
    Denounce {
        citizen: CitizenId,
        accused: CitizenId,
        kind: String,
        day: Option<Day>,
    },
    DecideReport {
        report: ReportId,
        confirmed: bool,
    },
    CloseDay,
}

/// What a command produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Citizen {
        citizen: CitizenId,
    },
    Group {
        group: GroupId,
    },
    Product {
        product: ProductId,
    },
    Kol {
        kol: KolId,
    },
    Promotion {
        promotion: PromotionId,
    },
    Order {
        receipt: OrderReceipt,
    },
    Report {
        report: ReportId,
    },
    /// The incident a confirmed report became (None when rejected).
    ReportDecided {
        incident: Option<IncidentId>,
    },
    Incident {
        incident: IncidentId,
    },
    /// Points given back by a decided appeal (0 when rejected).
    Appeal {
        delta: i32,
    },
    DayClosed {
        report: Box<DayReport>,
    },
}

impl<D: Directory> Engine<D> {
    /// Applies one command. A refused command changes nothing.
    pub fn apply(&mut self, command: &Command) -> Result<Outcome, Refusal> {
        Ok(match command {
            Command::RegisterCitizen => Outcome::Citizen { citizen: self.register_citizen()? },
            Command::CreateGroup => Outcome::Group { group: self.create_group()? },
            Command::AssignGroup { citizen, group } => {
                self.assign_group(*citizen, *group)?;
                Outcome::Done
            }
            Command::RemoveFromGroup { citizen } => {
                self.remove_from_group(*citizen)?;
                Outcome::Done
            }
            Command::AddProduct { spec } => Outcome::Product { product: self.add_product(spec.clone())? },
            Command::AddKol { name } => Outcome::Kol { kol: self.add_kol(name.clone())? },
            Command::Follow { citizen, kol } => {
                self.follow(*citizen, *kol)?;
                Outcome::Done
            }
            Command::Unfollow { citizen, kol } => {
                self.unfollow(*citizen, *kol)?;
                Outcome::Done
            }
            Command::SetFavourites { citizen, products } => {
                self.set_favourites(*citizen, products)?;
                Outcome::Done
            }
            Command::SetInterests { citizen, interests } => {
                self.set_interests(*citizen, interests)?;
                Outcome::Done
            }
            Command::Promote { kol, product } => Outcome::Promotion { promotion: self.promote(*kol, *product)? },
            Command::PlaceOrder { citizen, product, units, via } => {
                Outcome::Order { receipt: self.place_order(*citizen, *product, *units, *via)? }
            }
            Command::ReportIncident { citizen, kind, day } => {
                let day = day.unwrap_or(self.day());
                Outcome::Incident { incident: self.report_incident_named(*citizen, kind, day)? }
            }
            Command::AnswerNotice { citizen, incident, answer } => {
                self.answer_notice(*citizen, *incident, *answer)?;
                Outcome::Done
            }
            Command::FileAppeal { citizen, incident } => {
                self.file_appeal(*citizen, *incident)?;
                Outcome::Done
            }
            Command::DecideAppeal { incident, granted } => {
                Outcome::Appeal { delta: self.decide_appeal(*incident, *granted)? }
            }
            Command::RevealScandal { product } => {
                self.reveal_scandal(*product)?;
                Outcome::Done
            }
            Command::Denounce { citizen, accused, kind, day } => {
                let day = day.unwrap_or(self.day());
                Outcome::Report { report: self.denounce(*citizen, *accused, kind, day)? }
            }
            Command::DecideReport { report, confirmed } => {
                Outcome::ReportDecided { incident: self.decide_report(*report, *confirmed)? }
            }
            Command::CloseDay => Outcome::DayClosed { report: Box::new(self.close_day()) },
        })
    }
}
