//! The lag history behind `GET /api/v1/groups/{group}/lag-history`: this node samples the total
//! lag of the groups someone asked about recently, every [`INTERVAL`], keeping the last hour.
//!
//! - A group is watched from the moment it is described (`GET /groups/{group}`) or its history
//!   asked, until nobody asked for [`WATCH_FOR`]. Each ask adds the lag of now.
//! - Samples are taken as the last caller who asked (the same ACLs apply): the watch keeps
//!   that caller's credentials and one cluster client logged in with them, only while it lasts.
//!   A refused login ends the watch.
//! - Memory is bounded: at most [`MAX_GROUPS`] groups (the least recently asked goes first),
//!   [`POINTS`] points each.
//!
//! The history is node-local and in memory: another node, or this one after a restart, starts
//! anew.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sluice_client::wire::ClusterClient;
use tokio::sync::watch;

use super::access::{client_for, Credentials, KafkaAccess};
use super::groups::current_lag;
use crate::AdminState;

/// Time between two samples of a group.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Points kept per group: one hour.
pub const POINTS: usize = 360;
/// How long a group stays watched after it was last asked about.
pub const WATCH_FOR: Duration = Duration::from_secs(15 * 60);
/// Groups watched at most.
pub const MAX_GROUPS: usize = 256;
/// The longest one group's sample may take.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Point {
    pub time_ms: i64,
    pub lag: i64,
}

#[derive(Debug, Serialize)]
pub struct History {
    pub interval_ms: u64,
    pub points: Vec<Point>,
}

struct Watched {
    points: VecDeque<Point>,
    last_asked: Instant,
    credentials: Option<Credentials>,
    /// Logged in with `credentials`; out of the map while a sample runs.
    client: Option<ClusterClient>,
}

/// The watched groups and their points.
#[derive(Default)]
pub struct LagHistory {
    groups: Mutex<BTreeMap<String, Watched>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn same(a: Option<&Credentials>, b: Option<&Credentials>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.user == b.user && a.password == b.password,
        _ => false,
    }
}

fn push(points: &mut VecDeque<Point>, point: Point) {
    if points.len() >= POINTS {
        points.pop_front();
    }
    points.push_back(point);
}

impl LagHistory {
    /// Someone asked about `group` as `credentials` and saw `lag_now`: (re)start watching it.
    pub fn watch(&self, group: &str, credentials: Option<&Credentials>, lag_now: Option<i64>) {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if !groups.contains_key(group) && groups.len() >= MAX_GROUPS {
            let oldest = groups
                .iter()
                .min_by_key(|(_, w)| w.last_asked)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                groups.remove(&oldest);
            }
        }
        let watched = groups.entry(group.to_string()).or_insert_with(|| Watched {
            points: VecDeque::new(),
            last_asked: Instant::now(),
            credentials: credentials.cloned(),
            client: None,
        });
        watched.last_asked = Instant::now();
        if !same(watched.credentials.as_ref(), credentials) {
            watched.credentials = credentials.cloned();
            watched.client = None;
        }
        if let Some(lag) = lag_now {
            let time_ms = now_ms();
            // Asking often does not crowd out the sampled points: a point younger than half
            // an interval is replaced by the newer one.
            let half_interval_ms = i64::try_from(INTERVAL.as_millis() / 2).unwrap_or(0);
            let point = Point { time_ms, lag };
            match watched.points.back_mut() {
                Some(last) if time_ms.saturating_sub(last.time_ms) < half_interval_ms => {
                    *last = point
                }
                _ => push(&mut watched.points, point),
            }
        }
    }

    /// The points of `group` (none when it is not watched).
    pub fn history(&self, group: &str) -> History {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        History {
            interval_ms: INTERVAL.as_millis() as u64,
            points: groups
                .get(group)
                .map(|w| w.points.iter().copied().collect())
                .unwrap_or_default(),
        }
    }

    /// One round: drops the watches nobody renewed, then samples the others one by one.
    pub async fn sample(&self, access: &KafkaAccess) {
        let due: Vec<(String, Option<Credentials>, Option<ClusterClient>)> = {
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            groups.retain(|_, w| w.last_asked.elapsed() < WATCH_FOR);
            groups
                .iter_mut()
                .map(|(name, w)| (name.clone(), w.credentials.clone(), w.client.take()))
                .collect()
        };
        for (group, credentials, client) in due {
            let mut client = match client {
                Some(client) => client,
                None => match client_for(access, credentials.as_ref()) {
                    Ok(client) => client,
                    Err(_) => continue,
                },
            };
            let sampled =
                tokio::time::timeout(SAMPLE_TIMEOUT, current_lag(&mut client, &group)).await;
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            let Some(watched) = groups.get_mut(&group) else {
                continue;
            };
            match sampled {
                Ok(Ok(Some(lag))) => push(
                    &mut watched.points,
                    Point {
                        time_ms: now_ms(),
                        lag,
                    },
                ),
                Ok(Err(e)) if e.is_authentication() => {
                    groups.remove(&group);
                    continue;
                }
                _ => {}
            }
            if same(watched.credentials.as_ref(), credentials.as_ref()) {
                watched.client = Some(client);
            }
        }
    }
}

/// Samples the watched groups every [`INTERVAL`] until `shutdown` turns true.
pub async fn run(state: Arc<AdminState>, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let Some(access) = state.kafka() else {
            continue;
        };
        tokio::select! {
            _ = state.lag_history.sample(access) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_in_groups_and_points() {
        let history = LagHistory::default();
        for i in 0..MAX_GROUPS + 5 {
            history.watch(&format!("g{i}"), None, Some(1));
        }
        assert_eq!(history.groups.lock().expect("lock").len(), MAX_GROUPS);
        // The least recently asked went first.
        assert!(history.history("g0").points.is_empty());
        assert_eq!(
            history
                .history(&format!("g{}", MAX_GROUPS + 4))
                .points
                .len(),
            1
        );

        let mut points = VecDeque::new();
        for i in 0..POINTS as i64 + 10 {
            push(&mut points, Point { time_ms: i, lag: i });
        }
        assert_eq!(points.len(), POINTS);
        assert_eq!(points.front().map(|p| p.time_ms), Some(10));
    }

    #[test]
    fn asking_often_keeps_one_recent_point() {
        let history = LagHistory::default();
        history.watch("g", None, Some(3));
        history.watch("g", None, Some(4));
        history.watch("g", None, None);
        let points = history.history("g").points;
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].lag, 4, "the newer lag replaces the recent point");
        assert_eq!(history.history("g").interval_ms, 10_000);
    }
}
