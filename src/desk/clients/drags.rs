//! Moves made in a mail client with no event to say so: mail that turned up in a
//! member folder or 完了, recorded as that client's claim or finish, in batches.

use super::*;

/// Whether no event puts a message where it is.
pub(super) fn unexplained(it: &Item, kind: &str, evs: &[Stored]) -> bool {
    let own = history::move_id(kind, &it.folder, it.uid);
    if evs
        .iter()
        .any(|e| e.own_id.as_deref() == Some(own.as_str()))
    {
        return false;
    }
    let last = evs
        .iter()
        .filter(|e| e.concerns(it))
        .rfind(|e| e.to_folder.is_some());
    last.and_then(|e| e.to_folder.as_deref()) != Some(it.folder.as_str())
}

/// A move made in a mail client, to be recorded with the others of the run.
pub(super) struct Drag {
    item: Item,
    kind: &'static str,
    from: String,
    own: String,
}

/// A message found in a member folder or 完了: if no event puts it there, a
/// mail client moved it; noted in `drags`, recorded by `record_drags`.
pub(super) fn dragged(
    desk: &Desk<'_>,
    it: &Item,
    kind: &'static str,
    evs: &[Stored],
    drags: &mut Vec<Drag>,
) -> Option<Dragged> {
    let own = history::move_id(kind, &it.folder, it.uid);
    if evs
        .iter()
        .any(|e| e.own_id.as_deref() == Some(own.as_str()))
    {
        return None;
    }
    let last = evs
        .iter()
        .filter(|e| e.concerns(it))
        .rfind(|e| e.to_folder.is_some());
    if last.and_then(|e| e.to_folder.as_deref()) == Some(it.folder.as_str()) {
        return None;
    }
    let from = last
        .and_then(|e| e.to_folder.clone())
        .unwrap_or_else(|| desk.paths.unclaimed.clone());
    drags.push(Drag {
        item: it.clone(),
        kind,
        from,
        own,
    });
    Some(Dragged {
        id: it.id.clone(),
        event: kind,
        folder: it.folder.clone(),
        subject: it.subject.clone(),
    })
}

/// The events of the moves made in mail clients, together (a few APPENDs for
/// thousands). Each is known by its own ID: a run cut part-way records nothing twice.
pub(super) fn record_drags(desk: &mut Desk<'_>, drags: &[Drag]) -> Result<()> {
    if drags.is_empty() {
        return Ok(());
    }
    let nowhere: Vec<Landed> = drags
        .iter()
        .map(|d| Landed {
            folder: d.item.folder.clone(),
            uid: None,
            keywords: Vec::new(),
        })
        .collect();
    let mut evs: Vec<(Event<'_>, &Landed)> = drags
        .iter()
        .zip(&nowhere)
        .map(|(d, l)| {
            let ev = Event {
                from_folder: &d.from,
                message_id: Some(d.own.clone()),
                ..event(
                    d.kind,
                    CLIENT,
                    &d.item,
                    Some(&d.item.folder),
                    Some("moved in a mail client"),
                )
            };
            (ev, l)
        })
        .collect();
    // Batches are made of one kind.
    evs.sort_by_key(|(e, _)| e.kind);
    desk.record_all(&evs)
}
