//! Research on layer plans, not part of the shipping API (feature `research`): every strategy on
//! its own, the cost of changing one path under a plan, and simulated edits of a closure (see the
//! `layer_plans` example).

pub use super::follow::{layer_key, plan_following, LayerRecord, HORIZON};
pub use super::plan::{
    change_cost, order_by_popularity, plan, plan_cochange, plan_dominator, plan_sized, plan_with,
    popularity, LayerPlan, PlannedLayer, Strategy, DOCKER_MAX_LAYERS,
};
pub use super::plan_edits::{
    compare_following, replan, sample_edits, sequence, with_added, without, Compared, Edit, Replan,
    Step,
};
