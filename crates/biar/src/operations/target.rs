//! Where a push goes: the project's registry, or a bad-input error saying how to configure one.

use crate::config::Project;
use crate::registry::RegistryTarget;

use super::Error;

/// The registry `project` pushes to; [`Error::NoRegistry`] (bad input) when it names none.
pub fn push_target(project: &Project) -> Result<RegistryTarget, Error> {
    RegistryTarget::from_config(&project.config).ok_or_else(|| Error::NoRegistry {
        config: project.config_path(),
    })
}

/// `host[/namespace]` of the project's registry, as front ends show it.
pub fn registry_label(project: &Project) -> Option<String> {
    RegistryTarget::from_config(&project.config).map(|t| {
        [t.host, t.namespace]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/")
    })
}
