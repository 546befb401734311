//! The store conformance suite of evtstore.
//!
//! Every behaviour a [`Store`](evtstore::Store) must have is one async function in [`cases`],
//! taking a fresh, empty store. [`conformance_suite!`] turns all of them into tests for one
//! store, so a new store runs the whole suite with one line:
//!
//! ```ignore
//! evtstore_tests::conformance_suite!(memory, async { evtstore::MemoryStore::new() });
//! ```
//!
//! The expression is evaluated once per test and must give a store no other test uses.

pub mod cases;
pub mod domain;
pub mod fold_table;
pub mod projection;

use crate::domain::UserCommand;

/// [`Store::read`](evtstore::Store::read) for tests whose rows are all events: an unreadable row
/// fails the test with its description.
pub trait ReadEvents: evtstore::Store {
    /// The events of a read, each row required to be an event.
    fn read_events(
        &self,
        streams: &[&str],
        after: evtstore::Cursor,
        limit: usize,
    ) -> impl std::future::Future<Output = Result<Vec<evtstore::RecordedEvent>, evtstore::Error>> + Send;
}

impl<S: evtstore::Store> ReadEvents for S {
    async fn read_events(
        &self,
        streams: &[&str],
        after: evtstore::Cursor,
        limit: usize,
    ) -> Result<Vec<evtstore::RecordedEvent>, evtstore::Error> {
        let rows = self.read(streams, after, limit).await?;
        Ok(rows
            .into_iter()
            .map(|row| row.unwrap_or_else(|unreadable| panic!("unexpected: {unreadable}")))
            .collect())
    }
}

/// The command that creates a user named `name`.
pub fn create_user(name: &str) -> UserCommand {
    UserCommand::Create {
        name: name.to_owned(),
    }
}

/// A domain over the same store without any cached aggregate: what another process sees.
pub fn fresh_domain<S: evtstore::Store>(domain: &evtstore::Domain<S>) -> evtstore::Domain<S> {
    evtstore::Domain::with_options(domain.store().clone(), domain.options())
}

/// Declares a module `$name` with one `#[tokio::test]` per conformance case, each run on the
/// store `$store` evaluates to (an expression of a future giving a fresh store).
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $store:expr) => {
        $crate::__conformance_cases! { $name, $store;
            commands::command_returns_new_aggregate_and_version,
            commands::two_event_command_advances_version_by_two,
            commands::unknown_id_is_version_zero_with_default_state,
            commands::command_sees_current_version,
            commands::refused_command_appends_nothing,
            commands::empty_command_result_appends_nothing,
            commands::aggregates_of_one_stream_are_independent,
            commands::same_id_in_two_streams_is_independent,
            commands::command_checks_another_aggregate,
            commands::history_carries_event_metadata,
            commands::command_metadata_is_stored,
            commands::command_decides_from_metadata,
            commands::retried_command_with_id_appends_once,
            commands::load_folds_all_events,
            concurrency::conflicting_append_is_version_conflict,
            concurrency::conflicting_batch_appends_nothing,
            concurrency::stale_aggregate_is_retried,
            concurrency::conflict_without_retries_reaches_caller,
            concurrency::concurrent_commands_on_one_aggregate_all_land,
            concurrency::concurrent_commands_on_distinct_aggregates,
            concurrency::retries_stop_after_configured_count,
            concurrency::refusal_on_stale_cache_sees_other_writers,
            concurrency::no_op_on_stale_cache_returns_current_state,
            concurrency::contended_commands_land_with_default_options,
            handlers::handler_builds_read_model_once,
            handlers::next_run_handles_only_new_events,
            handlers::missing_bookmark_starts_at_beginning,
            handlers::restarted_handler_resumes_from_bookmark,
            handlers::in_memory_bookmark_keeps_place,
            handlers::two_streams_in_position_order,
            handlers::handler_reads_only_its_streams,
            handlers::small_pages_handle_everything_in_order,
            handlers::bookmark_stored_every_interval_and_at_end,
            handlers::tail_stream_skips_history,
            handlers::tail_stream_resumes_stored_bookmark,
            handlers::always_tail_stream_skips_history,
            handlers::always_tail_stream_after_reset,
            handlers::run_rereads_stored_bookmark,
            handlers::continue_on_error_skips_failing_event,
            handlers::failing_event_stops_handler,
            handlers::hooks_run_around_each_batch,
            handlers::started_handler_stops,
            handlers::stop_waits_for_page_in_flight,
            handlers::started_handler_retries_after_error,
            handlers::started_handler_wakes_on_append,
            health::status_shows_lag_holder_and_last_handled,
            health::waits_until_a_handler_has_handled,
            claims::second_runner_is_refused_while_first_holds,
            claims::stopped_runner_hands_over_at_once,
            claims::taken_over_claim_cannot_move_bookmark,
            claims::runner_paused_past_its_lease_cannot_move_bookmark,
            claims::owner_takes_its_claim_again,
            claims::standby_takes_over_when_the_holder_stops,
            projections::projection_commits_rows_with_bookmark,
            projections::failed_projection_event_rolls_back_its_writes,
            projections::continue_on_error_rolls_back_the_failing_event_alone,
            segments::segments_partition_the_events,
            segments::busy_segment_does_not_hold_up_the_others,
            snapshots::snapshot_written_with_tag,
            snapshots::snapshot_used_on_load,
            snapshots::snapshot_with_other_tag_is_ignored_and_rewritten,
            snapshots::snapshots_of_two_aggregates_are_independent,
            snapshots::malformed_snapshot_is_rebuilt,
            snapshots::snapshot_save_keeps_newest,
            storage::load_after_version,
            storage::read_respects_cursor_streams_and_limit,
            storage::sparse_stream_reads_whole_in_pages,
            storage::stored_event_is_json_with_type,
            upcasting::old_events_are_read_through_upcasters,
            upcasting::old_snapshot_is_rebuilt_from_upcast_events,
            storage::last_cursor_is_last_event,
            storage::bookmarks_upsert_by_name,
            storage::unknown_event_type_fails_load,
            storage::malformed_event_fails_handler,
            storage::replay_starts_from_matching_snapshot,
            poison::unreadable_rows_are_reported_and_skipped,
            poison::broken_history_is_refused,
            poison::replay_without_positions_keeps_versions,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($name:ident, $store:expr; $($group:ident :: $case:ident),* $(,)?) => {
        mod $name {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let store = $store.await;
                    $crate::cases::$group::$case(store).await;
                }
            )*
        }
    };
}
