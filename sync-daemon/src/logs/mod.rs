//! Log shipping: every line the install and the dev server print, and the
//! daemon's and the gateway's own notes, go to the provisioner
//! (`POST /v1/apps/{appId}/logs`), labelled by source, so an editor can
//! read and follow the preview's logs without reaching into the machine.
//!
//! Printing never waits for the network: a line is put in the [`Outbox`]
//! (a bounded queue behind a short lock) and the shipper task (`ship`)
//! sends batches of up to `MAX_BATCH_LINES`, at most [`BATCH_WAIT`] after
//! their first line and at most one per [`BATCH_WAIT`], so however fast a
//! dev server prints, its preview asks the provisioner for at most four
//! log writes a second. While the provisioner is unreachable, or the output
//! is faster than that, the outbox keeps the newest [`QUEUED_LINES`] lines;
//! the next batch starts with one `daemon` line saying how many older lines
//! were dropped.

mod outbox;
mod ship;

pub use outbox::{Outbox, QUEUED_LINES};
pub use ship::{BATCH_WAIT, run};
