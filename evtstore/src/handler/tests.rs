use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::doc_fixtures::{UserCommand, UserCommands, UserEvent};
use crate::{Domain, Error, EventMeta, HandledBy, HandlerResult, MemoryStore, Store};

/// A model that panics the first time it is handed user `b`, and handles every other event.
#[derive(Default)]
struct PanicsOnB {
    panicked: AtomicBool,
    handled: Mutex<Vec<String>>,
}

impl HandledBy<PanicsOnB> for UserEvent {
    async fn dispatch(model: &PanicsOnB, id: &str, _: &Self, _: &EventMeta) -> HandlerResult {
        if id == "b" && !model.panicked.swap(true, Ordering::SeqCst) {
            panic!("model bug on {id}");
        }
        model.handled.lock().unwrap().push(id.to_owned());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_handler_reports_a_panic_and_keeps_running() {
    let domain = Domain::new(MemoryStore::new());
    let users = domain.commands(UserCommands);
    for id in ["a", "b", "c"] {
        let create = UserCommand::Create { name: id.into() };
        users.execute(id, &create).await.unwrap();
    }
    let reports = Arc::new(Mutex::new(Vec::new()));
    let reported = Arc::clone(&reports);
    let handler = domain
        .handler("panicky", PanicsOnB::default())
        .stream::<UserEvent>()
        .page_size(1)
        .idle_poll(Duration::from_millis(5))
        .error_backoff(Duration::from_millis(5))
        .on_error(move |error| {
            let panicked = matches!(error, Error::HandlerPanicked { bookmark, .. }
                if bookmark == "panicky");
            reported.lock().unwrap().push((panicked, error.to_string()));
        })
        .build();
    let running = handler.start();
    for _ in 0..1000 {
        if handler.model().handled.lock().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(running.is_running());
    // `stop` re-raises a panic that ended the task.
    running.stop().await;
    assert_eq!(
        *reports.lock().unwrap(),
        [(
            true,
            "handler `panicky` panicked: model bug on b".to_owned()
        )]
    );
    // The run resumed after `a`, whose page was finished before the panic: `a` was handed
    // over once, `b` again after the panic, then `c`.
    assert_eq!(*handler.model().handled.lock().unwrap(), ["a", "b", "c"]);
    let store = domain.store();
    let last = store.last_cursor(&["users"]).await.unwrap();
    assert_eq!(store.bookmark("panicky").await.unwrap(), Some(last));
}
