//! The one requirement on a handler's model, stated once so that a model that misses it reads
//! as one sentence on the model's type.

/// What every handler model is: `Send`, `Sync` and `'static`, because a handler runs on the
/// async runtime's worker threads, shares its model between the runs of its segments, and
/// may be started in the background ([`EventHandler::start`](crate::EventHandler::start)).
///
/// Implemented for every type that is all three; there is nothing to implement. A model with
/// a `Cell`, `RefCell` or `Rc` inside is not: keep its state behind a `Mutex` or in atomics.
/// The handler traits `#[derive(Aggregate)]` generates require it, so such a model is
/// reported where it implements one:
///
/// ```text
/// error[E0277]: `Names` cannot be a handler model: it is not `Send` and `Sync`, or it borrows
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler model: it is not `Send` and `Sync`, or it borrows",
    label = "handled on several threads",
    note = "a handler's model is shared by the runtime's threads: keep its state behind a \
            `Mutex` or in atomics, not in a `Cell`, `RefCell` or `Rc`, and own it (`'static`)"
)]
pub trait HandlerModel: Send + Sync + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Send + Sync + 'static> HandlerModel for T {}
