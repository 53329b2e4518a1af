//! The classic group protocol's requests: JoinGroup, SyncGroup, Heartbeat and LeaveGroup
//! (the groups' states and transitions are in `crate::classic_group`).

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;

use crate::classic_group::{
    add_member, check_member, join_response, maybe_complete_join, membership_changed,
    prepare_rebalance, remove_member, replace_static_member, store_group, sync_response, touch,
    update_member, ClassicGroup, ClassicState, Member,
};
use crate::coordinator::{Group, GroupCoordinator};
use crate::output::{Client, Output, Reply, Token};

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl GroupCoordinator {
    pub fn join_group(
        &mut self,
        now: i64,
        token: Token,
        version: i16,
        client: &Client,
        req: JoinGroupRequest,
        out: &mut Output,
    ) {
        let group_id = req.group_id.to_string();
        let member_id = req.member_id.to_string();
        let instance_id = req.group_instance_id.as_ref().map(|s| s.to_string());
        let fail = |out: &mut Output, code: ErrorCode| {
            out.reply(
                token,
                Reply::Join(
                    JoinGroupResponse::default()
                        .with_error_code(code.0)
                        .with_generation_id(-1)
                        .with_member_id(sb(&member_id)),
                ),
            );
        };
        if group_id.is_empty() {
            return fail(out, ErrorCode::INVALID_GROUP_ID);
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return fail(out, ErrorCode::INVALID_SESSION_TIMEOUT);
        }
        if let Some(code) = self.coordinator_error(&group_id) {
            return fail(out, code);
        }
        let protocols: Vec<(String, Bytes)> = req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect();
        if req.protocol_type.is_empty() || protocols.is_empty() {
            return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        match self.groups.get(&group_id) {
            Some(Group::Consumer(_)) => {
                // A KIP-848 group does not take classic members here.
                return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
            }
            None if !member_id.is_empty() => return fail(out, ErrorCode::UNKNOWN_MEMBER_ID),
            None => {
                self.groups.insert(
                    group_id.clone(),
                    Group::Classic(ClassicGroup::new(&group_id, now)),
                );
            }
            Some(Group::Classic(_)) => {}
        }
        // v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
        let rebalance_timeout_ms = if version == 0 {
            req.session_timeout_ms
        } else {
            req.rebalance_timeout_ms
        };
        let new_id = if member_id.is_empty() {
            let prefix = instance_id
                .clone()
                .unwrap_or_else(|| client.client_id.clone());
            Some(self.new_member_id(&prefix))
        } else {
            None
        };
        let config = self.config.clone();
        let partition = self.partition_for(&group_id);
        let Some(g) = self.classic_mut(&group_id) else {
            return fail(out, ErrorCode::UNKNOWN_SERVER_ERROR);
        };
        if !g.supports(&req.protocol_type, &protocols) {
            return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        let template = Member {
            id: String::new(),
            instance_id: instance_id.clone(),
            client_id: client.client_id.clone(),
            client_host: client.client_host.clone(),
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms,
            protocol_type: req.protocol_type.to_string(),
            protocols: protocols.clone(),
            assignment: Bytes::new(),
            join_waiter: Some((token, version)),
            sync_waiter: None,
            heartbeat_deadline: now + i64::from(req.session_timeout_ms),
        };

        if let Some(new_id) = new_id {
            // A member without an id.
            if let Some(instance) = &instance_id {
                if let Some(old) = g.member_by_instance(instance).map(|m| m.id.clone()) {
                    replace_static_member(g, &old, new_id, template, now, partition, out);
                    return;
                }
            }
            if g.members.len() + g.pending.len() >= config.max_size {
                return fail(out, ErrorCode::GROUP_MAX_SIZE_REACHED);
            }
            if instance_id.is_none() && version >= 4 {
                // KIP-394: hand out an id; the member joins again with it.
                g.pending
                    .insert(new_id.clone(), now + i64::from(req.session_timeout_ms));
                out.reply(
                    token,
                    Reply::Join(
                        JoinGroupResponse::default()
                            .with_error_code(ErrorCode::MEMBER_ID_REQUIRED.0)
                            .with_generation_id(-1)
                            .with_member_id(sb(&new_id)),
                    ),
                );
                return;
            }
            add_member(
                g,
                Member {
                    id: new_id,
                    ..template
                },
                now,
                &config,
            );
            maybe_complete_join(g, now, partition, out);
            return;
        }

        // A member with an id.
        if g.pending.remove(&member_id).is_some() {
            add_member(
                g,
                Member {
                    id: member_id,
                    ..template
                },
                now,
                &config,
            );
            maybe_complete_join(g, now, partition, out);
            return;
        }
        if let Some(instance) = &instance_id {
            if let Some(current) = g.member_by_instance(instance) {
                if current.id != member_id {
                    return fail(out, ErrorCode::FENCED_INSTANCE_ID);
                }
            }
        }
        let Some(member) = g.member(&member_id) else {
            return fail(out, ErrorCode::UNKNOWN_MEMBER_ID);
        };
        let unchanged = member.protocols == protocols;
        let is_leader = g.leader.as_deref() == Some(member_id.as_str());
        match g.state {
            ClassicState::PreparingRebalance => {
                update_member(g, &member_id, template);
                maybe_complete_join(g, now, partition, out);
            }
            ClassicState::CompletingRebalance | ClassicState::Stable
                if unchanged && !(is_leader && g.state == ClassicState::Stable) =>
            {
                // The member lost our JoinGroup response (or a follower rejoins with nothing
                // new): answer with the current generation.
                let reply = join_response(g, &member_id, version);
                if let Some(m) = g.member_mut(&member_id) {
                    m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
                }
                out.reply(token, Reply::Join(reply));
            }
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                update_member(g, &member_id, template);
                prepare_rebalance(g, now, partition, out);
            }
            ClassicState::Empty => fail(out, ErrorCode::UNKNOWN_MEMBER_ID),
        }
    }

    // -----------------------------------------------------------------------------------------
    // SyncGroup

    pub fn sync_group(
        &mut self,
        now: i64,
        token: Token,
        version: i16,
        req: SyncGroupRequest,
        out: &mut Output,
    ) {
        let group_id = req.group_id.to_string();
        let member_id = req.member_id.to_string();
        let partition = self.partition_for(&group_id);
        let fail = |out: &mut Output, code: ErrorCode| {
            out.reply(
                token,
                Reply::Sync(SyncGroupResponse::default().with_error_code(code.0)),
            );
        };
        if group_id.is_empty() {
            return fail(out, ErrorCode::INVALID_GROUP_ID);
        }
        if let Some(code) = self.coordinator_error(&group_id) {
            return fail(out, code);
        }
        let Some(g) = self.classic_mut(&group_id) else {
            return fail(out, ErrorCode::UNKNOWN_MEMBER_ID);
        };
        if let Some(code) = check_member(
            g,
            &member_id,
            req.group_instance_id.as_deref(),
            Some(req.generation_id),
        ) {
            return fail(out, code);
        }
        if let Some(t) = &req.protocol_type {
            if g.protocol_type.as_deref() != Some(t.as_str()) {
                return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
            }
        }
        if let Some(n) = &req.protocol_name {
            if g.protocol.as_deref() != Some(n.as_str()) {
                return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
            }
        }
        match g.state {
            ClassicState::Empty => fail(out, ErrorCode::UNKNOWN_MEMBER_ID),
            ClassicState::PreparingRebalance => fail(out, ErrorCode::REBALANCE_IN_PROGRESS),
            ClassicState::Stable => {
                let reply = sync_response(g, &member_id);
                touch(g, &member_id, now);
                out.reply(token, Reply::Sync(reply));
            }
            ClassicState::CompletingRebalance => {
                touch(g, &member_id, now);
                if let Some(m) = g.member_mut(&member_id) {
                    m.sync_waiter = Some((token, version));
                }
                if g.leader.as_deref() == Some(member_id.as_str()) {
                    let assignments: HashMap<String, Bytes> = req
                        .assignments
                        .into_iter()
                        .map(|a| (a.member_id.to_string(), a.assignment))
                        .collect();
                    for m in &mut g.members {
                        m.assignment = assignments.get(&m.id).cloned().unwrap_or_default();
                    }
                    g.set_state(ClassicState::Stable, now);
                    store_group(g, partition, out);
                    let ids: Vec<String> = g.members.iter().map(|m| m.id.clone()).collect();
                    for id in ids {
                        let reply = sync_response(g, &id);
                        if let Some(m) = g.member_mut(&id) {
                            if let Some((t, _)) = m.sync_waiter.take() {
                                out.reply(t, Reply::Sync(reply));
                            }
                        }
                    }
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Heartbeat

    pub fn heartbeat(&mut self, now: i64, req: &HeartbeatRequest) -> ErrorCode {
        let group_id = req.group_id.as_str();
        if group_id.is_empty() {
            return ErrorCode::INVALID_GROUP_ID;
        }
        if let Some(code) = self.coordinator_error(group_id) {
            return code;
        }
        // Checked before the group is taken for a change: a refused heartbeat changes nothing.
        let Some(g) = self.classic(group_id) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        if let Some(code) = check_member(
            g,
            req.member_id.as_str(),
            req.group_instance_id.as_deref(),
            Some(req.generation_id),
        ) {
            return code;
        }
        let code = match g.state {
            ClassicState::Empty => return ErrorCode::UNKNOWN_MEMBER_ID,
            ClassicState::PreparingRebalance => ErrorCode::REBALANCE_IN_PROGRESS,
            ClassicState::CompletingRebalance | ClassicState::Stable => ErrorCode::NONE,
        };
        if let Some(g) = self.classic_mut(group_id) {
            touch(g, req.member_id.as_str(), now);
        }
        code
    }

    // -----------------------------------------------------------------------------------------
    // LeaveGroup

    pub fn leave_group(
        &mut self,
        now: i64,
        token: Token,
        version: i16,
        req: LeaveGroupRequest,
        out: &mut Output,
    ) {
        let group_id = req.group_id.to_string();
        let partition = self.partition_for(&group_id);
        // v0-v2 name one member; v3+ a batch with instance ids.
        let leaving: Vec<(String, Option<String>)> = if version <= 2 {
            vec![(req.member_id.to_string(), None)]
        } else {
            req.members
                .iter()
                .map(|m| {
                    (
                        m.member_id.to_string(),
                        m.group_instance_id.as_ref().map(|s| s.to_string()),
                    )
                })
                .collect()
        };
        let mut response = LeaveGroupResponse::default();
        if !group_id.is_empty() {
            if let Some(code) = self.coordinator_error(&group_id) {
                // A group-level error: top level, no member results, in every version.
                out.reply(token, Reply::Leave(response.with_error_code(code.0)));
                return;
            }
        }
        let Some(g) = self.classic_mut(&group_id) else {
            let code = if group_id.is_empty() {
                ErrorCode::INVALID_GROUP_ID
            } else {
                ErrorCode::UNKNOWN_MEMBER_ID
            };
            if version <= 2 {
                response.error_code = code.0;
            } else {
                response.members = leaving
                    .into_iter()
                    .map(|(m, i)| {
                        MemberResponse::default()
                            .with_member_id(sb(&m))
                            .with_group_instance_id(i.map(|s| sb(&s)))
                            .with_error_code(code.0)
                    })
                    .collect();
            }
            out.reply(token, Reply::Leave(response));
            return;
        };
        let mut removed_any = false;
        for (member_id, instance_id) in leaving {
            let target = match &instance_id {
                Some(instance) => match g.member_by_instance(instance) {
                    None => Err(ErrorCode::UNKNOWN_MEMBER_ID),
                    Some(m) if !member_id.is_empty() && m.id != member_id => {
                        Err(ErrorCode::FENCED_INSTANCE_ID)
                    }
                    Some(m) => Ok(m.id.clone()),
                },
                None => {
                    if g.pending.remove(&member_id).is_some() {
                        Err(ErrorCode::NONE)
                    } else if g.member(&member_id).is_some() {
                        Ok(member_id.clone())
                    } else {
                        Err(ErrorCode::UNKNOWN_MEMBER_ID)
                    }
                }
            };
            let code = match target {
                Ok(id) => {
                    remove_member(g, &id, out);
                    removed_any = true;
                    ErrorCode::NONE
                }
                Err(code) => code,
            };
            if version <= 2 {
                response.error_code = code.0;
            } else {
                response.members.push(
                    MemberResponse::default()
                        .with_member_id(sb(&member_id))
                        .with_group_instance_id(instance_id.map(|s| sb(&s)))
                        .with_error_code(code.0),
                );
            }
        }
        if removed_any {
            membership_changed(g, now, partition, out);
        }
        out.reply(token, Reply::Leave(response));
    }
}
