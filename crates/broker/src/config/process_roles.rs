//! The roles of this node (`process.roles`).

/// The roles of this node (`process.roles`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessRoles {
    /// `broker,controller` (the default): serves clients and votes in the controller quorum.
    Combined,
    /// `broker`: serves clients; follows the controller quorum without voting.
    Broker,
    /// `controller`: votes in the controller quorum only.
    Controller,
}

impl ProcessRoles {
    pub fn is_broker(self) -> bool {
        self != ProcessRoles::Controller
    }

    pub fn is_controller(self) -> bool {
        self != ProcessRoles::Broker
    }

    /// Parses `process.roles`: `broker`, `controller` or both, each once.
    pub fn parse(value: &str) -> Result<ProcessRoles, String> {
        let mut broker = false;
        let mut controller = false;
        for role in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            match role {
                "broker" if !broker => broker = true,
                "controller" if !controller => controller = true,
                _ => {
                    return Err(format!(
                        "process.roles: '{role}' is not a role or is listed twice (expected broker, controller or both)"
                    ))
                }
            }
        }
        match (broker, controller) {
            (true, true) => Ok(ProcessRoles::Combined),
            (true, false) => Ok(ProcessRoles::Broker),
            (false, true) => Ok(ProcessRoles::Controller),
            (false, false) => Err("process.roles must name broker, controller or both".into()),
        }
    }
}
