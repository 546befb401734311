//! `#[serde(..)]` and doc comments on command parameters move to the command enum's fields.
#![deny(warnings, missing_docs)]

use evtstore::prelude::*;
use serde::{Deserialize, Serialize};

/// Events.
#[derive(Aggregate, Clone, Debug, Serialize, Deserialize)]
#[aggregate(stream = "notes", state = Note)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum NoteEvent {
    /// Written.
    Written {
        /// The text.
        text: String,
        /// The tags.
        tags: Vec<String>,
    },
}

/// A note.
#[derive(Clone, Debug, Default)]
pub struct Note {
    /// The tags.
    pub tags: Vec<String>,
}

impl NoteEventFold for Note {
    fn written(&mut self, _text: &String, tags: &Vec<String>) {
        self.tags.clone_from(tags);
    }
}

/// Note commands.
pub struct NoteCommands;

#[command(NoteEvent)]
impl NoteCommands {
    /// Writes the note.
    async fn write(
        &self,
        note: &Agg<Note>,
        #[serde(rename = "body")] text: String,
        /// Tags, none when left out.
        #[serde(default)]
        tags: Vec<String>,
    ) -> CommandResult<NoteEvent> {
        let _ = note;
        Ok(NoteEvent::Written { text, tags }.into())
    }
}

fn main() {
    let command: NoteCommand = serde_json::from_str(r#"{"type":"write","body":"hi"}"#).unwrap();
    let NoteCommand::Write { text, tags } = &command;
    assert_eq!((text.as_str(), tags.len()), ("hi", 0));
    let users = Domain::new(MemoryStore::new()).commands(NoteCommands);
    let note = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            users.execute("n", &command).await?;
            users.write("n", "again".into(), vec!["x".into()]).await
        })
        .unwrap();
    assert_eq!(note.tags, ["x"]);
}
