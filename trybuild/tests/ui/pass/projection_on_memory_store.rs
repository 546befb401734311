// A transactional projection: the model implements the generated projection trait with the
// store's transaction type, and its writes land when the page commits.
use std::sync::{Arc, Mutex};

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "users", state = User)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    Created { name: String },
    Renamed { name: String },
    Disabled,
}

#[derive(Clone, Debug, Default)]
pub struct User;

impl UserEventFold for User {
    fn created(&mut self, _name: &String) {}
    fn renamed(&mut self, _name: &String) {}
    fn disabled(&mut self) {}
}

#[derive(Default)]
pub struct UserNames(Arc<Mutex<Vec<String>>>);

impl UserEventProjection<MemoryTransaction> for UserNames {
    async fn created(
        &self,
        transaction: &mut MemoryTransaction,
        _aggregate_id: &str,
        name: &String,
        _meta: &EventMeta,
    ) -> HandlerResult {
        let (names, name) = (Arc::clone(&self.0), name.clone());
        transaction.on_commit(move || names.lock().unwrap().push(name));
        Ok(())
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = MemoryStore::new();
        let domain = Domain::new(store);
        let names = domain
            .handler("names", UserNames::default())
            .project::<UserEvent>()
            .build();
        assert_eq!(names.run_once().await.unwrap(), 0);
    });
}
