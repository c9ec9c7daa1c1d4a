//! The stages a flash read crosses besides its unit's sense and the tier's link: admission
//! (the host FTL's address lookup, one read at a time), a command on the unit's channel, a fixed
//! front latency, then after the sense the page's data-out on its channel and a fixed post
//! latency (ECC decode, staging) before the link.
//!
//! Published HBF device models bind here rather than at the array: FlashLab-MBZUAI/HBFSim's
//! tR = 1 µs cells are set by its FTL lookup rate and its grade 3 reads no faster than grade 2
//! because the per-channel data-out is slower than either grade's link; gystar/OpenHBF's
//! 4,096-read demo spends 19 ns per page on each channel's fabric, not the 16 ns of its raw
//! lanes (docs/hbf-published.md). A tier without a `read_path` has none of these stages.

use serde::{Deserialize, Serialize};

use crate::units::{Seconds, SimTime};

/// How consecutive reads spread over channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelMapping {
    /// Read `k` goes to channel `k mod channels`, as a controller striping pages does.
    #[default]
    Striped,
    /// Reads fill one channel's units before the next channel's (`k / units per channel`), as
    /// a compact logical-to-physical map places consecutive pages (FlashLab's, OpenHBF's demo).
    Contiguous,
}

/// The stages of a read beside the sense and the link, as a tier states them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadPath {
    /// Channels the units are spread over, each serving one command or page at a time.
    pub channels: u32,
    /// How consecutive reads spread over channels.
    #[serde(default)]
    pub mapping: ChannelMapping,
    /// Time the device admits one read, one after another across the whole tier (host FTL
    /// lookup, request decode).
    #[serde(default)]
    pub admission: Seconds,
    /// Time a read's command holds its channel before the sense.
    #[serde(default)]
    pub command: Seconds,
    /// Fixed latency between the command and the sense (lookups answered, scheduler, die
    /// command), overlapping other reads.
    #[serde(default)]
    pub front: Seconds,
    /// Time a page holds its channel after the sense before it crosses the channel's share of
    /// the link (the die's data-out); 0 when the page goes straight onto the link.
    #[serde(default)]
    pub data_out: Seconds,
    /// Fixed latency after the data-out (ECC decode, staging), overlapping other pages.
    #[serde(default)]
    pub post: Seconds,
}

impl ReadPath {
    /// Checks the figures: at least one channel and at most one per unit, finite non-negative
    /// times. Returns the field at fault and what is expected.
    pub fn validate(&self, units: u32) -> Result<(), (&'static str, String)> {
        if self.channels == 0 || self.channels > units {
            return Err((
                "channels",
                format!(
                    "is {}; expected from 1 to the tier's {units} parallel units",
                    self.channels
                ),
            ));
        }
        for (field, t) in [
            ("admission", self.admission),
            ("command", self.command),
            ("front", self.front),
            ("data_out", self.data_out),
            ("post", self.post),
        ] {
            if !(t.0.is_finite() && t.0 >= 0.0) {
                return Err((
                    field,
                    format!("is {t}; expected a time of 0 or more, e.g. 40ns"),
                ));
            }
        }
        Ok(())
    }
}

/// A read path in simulation ticks, with the channel of the next read.
#[derive(Debug, Clone)]
pub(crate) struct Stages {
    pub admission: SimTime,
    pub command: SimTime,
    pub front: SimTime,
    pub data_out: SimTime,
    pub post: SimTime,
    channels: u64,
    per_channel: u64,
    mapping: ChannelMapping,
    next: u64,
}

impl Stages {
    /// The stages of `path` on a tier of `units` units.
    pub fn new(path: &ReadPath, units: u32) -> Self {
        let channels = u64::from(path.channels.max(1));
        Self {
            admission: SimTime::from_seconds(path.admission),
            command: SimTime::from_seconds(path.command),
            front: SimTime::from_seconds(path.front),
            data_out: SimTime::from_seconds(path.data_out),
            post: SimTime::from_seconds(path.post),
            channels,
            per_channel: (u64::from(units) / channels).max(1),
            mapping: path.mapping,
            next: 0,
        }
    }

    /// Channels served.
    pub fn channels(&self) -> u64 {
        self.channels
    }

    /// The channel of the next read, counting it.
    pub fn next_channel(&mut self) -> usize {
        let k = self.next;
        self.next = self.next.wrapping_add(1);
        let ch = match self.mapping {
            ChannelMapping::Striped => k % self.channels,
            ChannelMapping::Contiguous => (k / self.per_channel) % self.channels,
        };
        ch as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(mapping: ChannelMapping) -> ReadPath {
        ReadPath {
            channels: 4,
            mapping,
            admission: Seconds::ns(5.0),
            command: Seconds::ZERO,
            front: Seconds::ZERO,
            data_out: Seconds::ns(40.0),
            post: Seconds::ZERO,
        }
    }

    #[test]
    fn striped_reads_turn_over_channels_and_contiguous_ones_fill_a_channel_first() {
        let mut s = Stages::new(&path(ChannelMapping::Striped), 16);
        let got: Vec<usize> = (0..6).map(|_| s.next_channel()).collect();
        assert_eq!(got, [0, 1, 2, 3, 0, 1]);
        let mut c = Stages::new(&path(ChannelMapping::Contiguous), 16);
        let got: Vec<usize> = (0..18).map(|_| c.next_channel()).collect();
        assert_eq!(&got[..5], [0, 0, 0, 0, 1]);
        assert_eq!(got[16], 0, "the 17th read wraps to the first channel");
    }

    #[test]
    fn channels_past_the_units_or_negative_times_are_refused() {
        let p = path(ChannelMapping::Striped);
        assert!(p.validate(16).is_ok());
        assert_eq!(p.validate(2).unwrap_err().0, "channels");
        let bad = ReadPath {
            post: Seconds(-1e-9),
            ..p
        };
        assert_eq!(bad.validate(16).unwrap_err().0, "post");
        let bad = ReadPath {
            data_out: Seconds(f64::NAN),
            ..p
        };
        assert_eq!(bad.validate(16).unwrap_err().0, "data_out");
    }
}
