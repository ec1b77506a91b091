//! Identifiers: small, copyable, explicit widths (`u32` for stored ids).
//!
//! Incidents and orders use *natural keys* (day, citizen, sequence) rather than a
//! global counter: the same command stream gives the same ids whichever executor,
//! shard or thread produced it.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// A citizen. Ids are dense from 0.
    CitizenId,
    "c"
);
id_type!(
    /// An interest group. Ids are dense from 0; neighbouring ids are similar groups
    /// when the groups were formed by the grouping crate.
    GroupId,
    "g"
);
id_type!(
    /// A product of the catalogue.
    ProductId,
    "p"
);
id_type!(
    /// A key opinion leader (influencer).
    KolId,
    "k"
);
id_type!(
    /// A brand (seller of products).
    BrandId,
    "b"
);

/// A simulated day, from 0.
pub type Day = u32;

/// Largest day number an id can carry (2^24 - 1 days, about 45,000 years).
pub const DAY_MAX: Day = (1 << 24) - 1;

/// An incident: reported on `day` against `citizen`, the `seq`-th such report that day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IncidentId {
    pub day: Day,
    pub citizen: CitizenId,
    pub seq: u8,
}

/// An order: placed on `day` by `citizen`, the `seq`-th order of that citizen that day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderId {
    pub day: Day,
    pub citizen: CitizenId,
    pub seq: u16,
}

/// A denunciation: filed on `day` by `citizen` (the denouncer), their `seq`-th that day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReportId {
    pub day: Day,
    pub citizen: CitizenId,
    pub seq: u8,
}

impl fmt::Display for ReportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}-{}-{}", self.day, self.citizen.0, self.seq)
    }
}

impl std::str::FromStr for ReportId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix('r').ok_or_else(|| format!("report ids look like r12-345-0, got {s:?}"))?;
        let id: IncidentId = format!("i{rest}").parse().map_err(|_| format!("{s:?} is not a report id (r12-345-0)"))?;
        Ok(ReportId { day: id.day, citizen: id.citizen, seq: id.seq })
    }
}

/// A KOL's promotion of a product on a day (at most one per KOL, product and day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PromotionId {
    pub day: Day,
    pub kol: KolId,
    pub product: ProductId,
}

impl IncidentId {
    /// Packs the id into one `u64` (day: 24 bits, citizen: 32 bits, seq: 8 bits).
    pub const fn to_u64(self) -> u64 {
        ((self.day as u64) << 40) | ((self.citizen.0 as u64) << 8) | self.seq as u64
    }

    pub const fn from_u64(packed: u64) -> IncidentId {
        IncidentId { day: (packed >> 40) as Day, citizen: CitizenId((packed >> 8) as u32), seq: packed as u8 }
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "i{}-{}-{}", self.day, self.citizen.0, self.seq)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "o{}-{}-{}", self.day, self.citizen.0, self.seq)
    }
}

impl std::str::FromStr for IncidentId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix('i').ok_or_else(|| format!("incident ids look like i12-345-0, got {s:?}"))?;
        let mut parts = rest.split('-');
        let mut next = |what: &str| {
            parts
                .next()
                .ok_or_else(|| format!("incident id {s:?} lacks its {what}"))
                .and_then(|p| p.parse::<u64>().map_err(|_| format!("incident id {s:?}: bad {what}")))
        };
        let day = next("day")?;
        let citizen = next("citizen")?;
        let seq = next("sequence")?;
        if day > DAY_MAX as u64 || citizen > u32::MAX as u64 || seq > u8::MAX as u64 {
            return Err(format!("incident id {s:?} is out of range"));
        }
        if parts.next().is_some() {
            return Err(format!("incident id {s:?} has extra parts"));
        }
        Ok(IncidentId { day: day as Day, citizen: CitizenId(citizen as u32), seq: seq as u8 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_ids_round_trip_through_u64_and_text() {
        let id = IncidentId { day: DAY_MAX, citizen: CitizenId(u32::MAX), seq: 255 };
        assert_eq!(IncidentId::from_u64(id.to_u64()), id);
        let id = IncidentId { day: 12, citizen: CitizenId(345), seq: 0 };
        assert_eq!(id.to_string(), "i12-345-0");
        assert_eq!("i12-345-0".parse::<IncidentId>(), Ok(id));
        assert!("12-345-0".parse::<IncidentId>().is_err());
        assert!("i12-345".parse::<IncidentId>().is_err());
        assert!("i12-345-0-1".parse::<IncidentId>().is_err());
        assert!("i12-345-999".parse::<IncidentId>().is_err());
    }

    #[test]
    fn incident_ids_sort_by_day_then_citizen() {
        let a = IncidentId { day: 1, citizen: CitizenId(9), seq: 3 };
        let b = IncidentId { day: 2, citizen: CitizenId(0), seq: 0 };
        assert!(a < b);
        assert!(a.to_u64() < b.to_u64());
    }
}
