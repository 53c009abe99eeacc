//! Usage counters: one item per budget in the keys table, `id =
//! "<budget>#usage"`, with no attribute any index is keyed on, so counting
//! never writes an index. A budget's rate counter for a window of W seconds
//! is `rW_ws`, `rW_c`, `rW_p` (window start in ms, this window's count, the
//! previous window's); its quota counter for a period kind is `q<kind>_p`,
//! `q<kind>_u` (the period, the requests used). The item stays until the
//! budget's usage is reset (a few hundred bytes per limited budget): the
//! keys table has no TTL, so no key can ever expire by one.
//!
//! A request is counted by one conditional `UpdateItem`, built from a
//! [`Plan`]: it holds only if the counters are still as the plan saw them,
//! and then adds one. When they are not, DynamoDB hands back the item as it
//! is (no read charged) and the plan is made again from it. The counters a
//! process last saw are kept per budget, so the next request's first try
//! usually holds; a refusal from those is confirmed by a strongly
//! consistent read before it is answered (a reset may have cleared them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::DynamoDbStore;
use super::error::{classify, unavailable};
use super::item::{Item, s};
use crate::domain::id::KeyId;
use crate::domain::limits::{
    Admission, Counters, Limits, PeriodId, Plan, Planned, QuotaCounter, QuotaStep, RateCounter,
    RateStep, plan, plan_many,
};
use crate::store::StoreError;

/// Tries of one count when other processes keep moving the counters.
const ATTEMPTS: usize = 5;
/// Budgets whose counters a process remembers; past this it forgets them all.
const REMEMBERED: usize = 10_000;

/// Tokens this process reserved and has not spent yet: with a lease of N,
/// one conditional write counts N requests at once, and the next N − 1 are
/// admitted here without a write, while the window and the period they
/// were counted in last. Every token is counted when it is reserved, so
/// nothing is ever admitted uncounted; a token not spent by the window's
/// end is counted but unused (the cost: fewer admitted than the limit, in
/// the worst case N − 1 per process per window).
#[derive(Clone, Default)]
pub(super) struct Leases(Arc<Mutex<HashMap<(KeyId, Limits), Lease>>>);

struct Lease {
    tokens: u64,
    /// The counters as the reservation left them.
    after: Counters,
}

impl Leases {
    /// One token of `budget`'s lease for `limits`, if it has one still good
    /// at `now_ms`: the counters it was reserved with.
    fn take(&self, budget: KeyId, limits: &Limits, now_ms: i64) -> Option<Counters> {
        let mut leases = self.0.lock().ok()?;
        let lease = leases.get_mut(&(budget, *limits))?;
        let window_holds = match (limits.rate, lease.after.rate) {
            (Some(rate), Some(c)) => {
                let w = i64::from(rate.window_seconds) * 1000;
                now_ms.div_euclid(w) * w == c.window_start_ms
            }
            (None, _) => true,
            (Some(_), None) => false,
        };
        let period_holds = match (limits.quota, &lease.after.quota) {
            (Some(quota), Some(q)) => quota.period.at(now_ms).0 == q.period,
            (None, _) => true,
            (Some(_), None) => false,
        };
        if lease.tokens == 0 || !window_holds || !period_holds {
            leases.remove(&(budget, *limits));
            return None;
        }
        lease.tokens -= 1;
        Some(lease.after.clone())
    }

    fn put(&self, budget: KeyId, limits: &Limits, tokens: u64, after: &Counters) {
        if let Ok(mut leases) = self.0.lock() {
            if leases.len() >= REMEMBERED {
                leases.clear();
            }
            leases.insert(
                (budget, *limits),
                Lease {
                    tokens,
                    after: after.clone(),
                },
            );
        }
    }
}

/// The counters each budget was last seen with, in this process.
#[derive(Clone, Default)]
pub(super) struct Seen(Arc<Mutex<HashMap<(KeyId, Limits), Counters>>>);

impl Seen {
    fn get(&self, budget: KeyId, limits: &Limits) -> Counters {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(&(budget, *limits)).cloned())
            .unwrap_or_default()
    }

    fn put(&self, budget: KeyId, limits: &Limits, counters: Counters) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= REMEMBERED {
                m.clear();
            }
            m.insert((budget, *limits), counters);
        }
    }
}

fn usage_id(budget: KeyId) -> String {
    format!("{budget}#usage")
}

/// The attribute names of the counters `limits` use.
struct Names {
    rate: Option<[String; 3]>,
    quota: Option<[String; 2]>,
}

impl Names {
    fn of(limits: &Limits) -> Self {
        Names {
            rate: limits.rate.map(|r| {
                let w = r.window_seconds;
                [format!("r{w}_ws"), format!("r{w}_c"), format!("r{w}_p")]
            }),
            quota: limits.quota.map(|q| {
                let k = q.period.as_str();
                [format!("q{k}_p"), format!("q{k}_u")]
            }),
        }
    }
}

fn number(item: &Item, name: &str) -> Option<i128> {
    match item.get(name)? {
        AttributeValue::N(n) => n.parse().ok(),
        _ => None,
    }
}

/// The counters `limits` use, from a usage item (`None`: no item).
fn counters_of(item: Option<&Item>, limits: &Limits) -> Result<Counters, StoreError> {
    let Some(item) = item else {
        return Ok(Counters::default());
    };
    let names = Names::of(limits);
    let corrupt = |what: &str| StoreError::Corrupt(format!("usage item: {what}"));
    let rate = match &names.rate {
        Some([ws, c, p]) if item.contains_key(ws) => Some(RateCounter {
            window_start_ms: number(item, ws)
                .and_then(|v| i64::try_from(v).ok())
                .ok_or_else(|| corrupt(ws))?,
            current: number(item, c)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| corrupt(c))?,
            previous: number(item, p)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| corrupt(p))?,
        }),
        _ => None,
    };
    let quota = match &names.quota {
        Some([period, used]) if item.contains_key(period) => Some(QuotaCounter {
            period: match item.get(period) {
                Some(AttributeValue::S(p)) => PeriodId(p.clone()),
                _ => return Err(corrupt(period)),
            },
            used: number(item, used)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or_else(|| corrupt(used))?,
        }),
        _ => None,
    };
    Ok(Counters { rate, quota })
}

fn num(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// One plan as an update, its condition and their placeholders.
struct Update {
    update: String,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

fn update_of(plan: &Plan, names: &Names) -> Update {
    let mut set = vec![];
    let mut add = vec![];
    let mut conditions = vec![];
    let mut n = HashMap::new();
    let mut v = HashMap::new();
    if let (Some(step), Some([ws, c, p])) = (plan.rate, &names.rate) {
        n.insert("#rws".into(), ws.clone());
        n.insert("#rc".into(), c.clone());
        n.insert("#rp".into(), p.clone());
        match step {
            RateStep::Add {
                window_start_ms,
                previous,
                max_current,
                count,
            } => {
                conditions.push("#rws = :rws AND #rp = :rp AND #rc <= :rmax".to_owned());
                v.insert(":rws".into(), num(window_start_ms));
                v.insert(":rp".into(), num(previous));
                v.insert(":rmax".into(), num(max_current));
                v.insert(":rn".into(), num(count));
                add.push("#rc :rn".to_owned());
            }
            RateStep::Roll {
                from_window_start_ms,
                current,
                window_start_ms,
                count,
            } => {
                conditions.push("#rws = :rfrom AND #rc = :rold".to_owned());
                v.insert(":rfrom".into(), num(from_window_start_ms));
                v.insert(":rold".into(), num(current));
                v.insert(":rws".into(), num(window_start_ms));
                v.insert(":rn".into(), num(count));
                set.push("#rws = :rws, #rp = :rold, #rc = :rn".to_owned());
            }
            RateStep::Start {
                stale_before_ms,
                window_start_ms,
                count,
            } => {
                conditions.push("(attribute_not_exists(#rws) OR #rws < :rstale)".to_owned());
                v.insert(":rstale".into(), num(stale_before_ms));
                v.insert(":rws".into(), num(window_start_ms));
                v.insert(":zero".into(), num(0));
                v.insert(":rn".into(), num(count));
                set.push("#rws = :rws, #rp = :zero, #rc = :rn".to_owned());
            }
        }
    }
    if let (Some(step), Some([period, used])) = (&plan.quota, &names.quota) {
        n.insert("#qp".into(), period.clone());
        n.insert("#qu".into(), used.clone());
        match step {
            QuotaStep::Add {
                period,
                max_used,
                count,
            } => {
                conditions.push("#qp = :qp AND #qu <= :qmax".to_owned());
                v.insert(":qp".into(), s(period.0.clone()));
                v.insert(":qmax".into(), num(max_used));
                v.insert(":qn".into(), num(count));
                add.push("#qu :qn".to_owned());
            }
            QuotaStep::Start { period, count } => {
                conditions.push("(attribute_not_exists(#qp) OR #qp < :qp)".to_owned());
                v.insert(":qp".into(), s(period.0.clone()));
                v.insert(":qn".into(), num(*count));
                set.push("#qp = :qp, #qu = :qn".to_owned());
            }
        }
    }
    let mut clauses = vec![];
    if !set.is_empty() {
        clauses.push(format!("SET {}", set.join(", ")));
    }
    if !add.is_empty() {
        clauses.push(format!("ADD {}", add.join(", ")));
    }
    let update = clauses.join(" ");
    Update {
        update,
        condition: conditions.join(" AND "),
        names: n,
        values: v,
    }
}

impl DynamoDbStore {
    /// Count one request (see the module's documentation).
    pub(super) async fn admit_usage(
        &self,
        budget: KeyId,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Admission, StoreError> {
        let names = Names::of(limits);
        if self.lease > 1
            && let Some(counters) = self.leases.take(budget, limits, now_ms)
        {
            return Ok(Admission::Admitted(counters));
        }
        let mut seen = self.seen.get(budget, limits);
        let mut confirmed = false;
        for _ in 0..ATTEMPTS {
            // A lease reserves as many tokens as fit, up to its size.
            let planned = (2..=self.lease)
                .rev()
                .map(|n| plan_many(limits, &seen, now_ms, n))
                .find(|p| matches!(p, Planned::Count(_)))
                .unwrap_or_else(|| plan(limits, &seen, now_ms));
            let plan = match planned {
                Planned::Count(plan) => plan,
                Planned::Exceeded(exceeded) if confirmed => {
                    self.seen.put(budget, limits, seen);
                    return Ok(Admission::Exceeded(exceeded));
                }
                Planned::Exceeded(_) => {
                    // Seen earlier: read what is stored now before refusing.
                    seen = self.read_usage(budget, limits).await?;
                    confirmed = true;
                    continue;
                }
            };
            let u = update_of(&plan, &names);
            let result = self
                .client
                .update_item()
                .table_name(self.keys.as_ref())
                .key("id", s(usage_id(budget)))
                .update_expression(u.update)
                .condition_expression(u.condition)
                .set_expression_attribute_names(Some(u.names))
                .set_expression_attribute_values(Some(u.values))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(out) => {
                    let after = counters_of(out.attributes.as_ref(), limits)?;
                    self.seen.put(budget, limits, after.clone());
                    if plan.count > 1 {
                        self.leases.put(budget, limits, plan.count - 1, &after);
                    }
                    return Ok(Admission::Admitted(after));
                }
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
                {
                    // The counters moved: the stored ones came back with the
                    // failure, exactly as they are.
                    let UpdateItemError::ConditionalCheckFailedException(failed) = e.err() else {
                        unreachable!("matched above")
                    };
                    seen = counters_of(failed.item(), limits)?;
                    confirmed = true;
                }
                Err(e) => return Err(classify(e)),
            }
        }
        Err(unavailable(
            "other requests kept moving the key's usage counters",
            None,
        ))
    }

    pub(super) async fn read_usage(
        &self,
        budget: KeyId,
        limits: &Limits,
    ) -> Result<Counters, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.keys.as_ref())
            .key("id", s(usage_id(budget)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        counters_of(out.item.as_ref(), limits)
    }

    /// The `Delete` of a budget's counters, in a change's transaction.
    pub(super) fn reset_item(&self, budget: KeyId) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(self.keys.as_ref())
                    .key("id", s(usage_id(budget)))
                    .build()?,
            )
            .build())
    }
}
