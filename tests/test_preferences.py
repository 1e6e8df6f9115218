"""The region's Session Manager preferences as a chain of labs: who set them, and what arriving and leaving does.

Pure: hand-built documents and saved copies, no AWS.
"""

from __future__ import annotations

import json

from ssmlab import preferences
from ssmlab.model import Parameter, PreferencesDocument

ACCOUNT_OWN = json.dumps({"schemaVersion": "1.0", "sessionType": "Standard_Stream",
                          "inputs": {"cloudWatchLogGroupName": "/corp/sessions", "s3BucketName": ""}})


def text(lab: str) -> str:
    return json.dumps(preferences.content(preferences.log_group_name(lab),
                                          preferences.bucket_name(lab, "123456789012", "ap-northeast-1")))


def document(content: str, creator: str | None = None) -> PreferencesDocument:
    tags = (("Name", f"{creator}-session-preferences"), ("ssmlab:lab", creator)) if creator else ()
    return PreferencesDocument(preferences.DOCUMENT, tags, content)


def saved(lab: str, content: str) -> Parameter:
    return Parameter(preferences.saved_name(lab), content, (("ssmlab:lab", lab),))


def calls(outlook_or_changes) -> list[tuple[str, str, str]]:
    changes = getattr(outlook_or_changes, "changes", outlook_or_changes)
    return [(c.operation, c.target, c.params.get("Value") or c.params.get("Content") or
             str(c.params.get("Tags") or c.params.get("TagKeys") or "")) for c in changes]


def test_who_set_them_is_read_from_the_log_group_or_bucket_they_name():
    assert preferences.set_by(text("pa")) == "pa"
    assert preferences.set_by(json.dumps(preferences.content(None, preferences.bucket_name("a-1", "123456789012", "eu-west-1")))) == "a-1"
    assert preferences.set_by(ACCOUNT_OWN) is None
    assert preferences.set_by("not json") is None


def test_a_lab_that_created_the_preferences_deletes_them_when_it_goes():
    outlook = preferences.removal("pa", document(text("pa"), creator="pa"), ())
    assert calls(outlook) == [("delete_document", preferences.DOCUMENT, "")]


def test_a_lab_that_replaced_the_accounts_preferences_puts_them_back():
    outlook = preferences.removal("pa", document(text("pa")), (saved("pa", ACCOUNT_OWN),))
    assert calls(outlook) == [("update_document", preferences.DOCUMENT, ACCOUNT_OWN),
                              ("delete_parameter", preferences.saved_name("pa"), "")]


def test_removing_the_first_of_two_labs_leaves_the_seconds_preferences_and_hands_it_the_creation():
    # pa created the document, pb set its own over it (saving pa's): removing pa must not touch pb's.
    doc = document(text("pb"), creator="pa")
    outlook = preferences.removal("pa", doc, (saved("pb", text("pa")),))
    assert ("delete_document", preferences.DOCUMENT, "") not in calls(outlook)
    assert ("update_document", preferences.DOCUMENT, text("pa")) not in calls(outlook)
    assert ("delete_parameter", preferences.saved_name("pb"), "") in calls(outlook)
    retag = [c for c in outlook.changes if c.operation == "add_tags_to_resource"]
    assert retag and {"Key": "ssmlab:lab", "Value": "pb"} in retag[0].params["Tags"]
    assert outlook.notes and "lab pb's" in outlook.notes[0] and "left as it is" in outlook.notes[0]
    # ...so that pb, removed later, deletes the document it now counts as having created.
    after = preferences.removal("pb", document(text("pb"), creator="pb"), ())
    assert calls(after) == [("delete_document", preferences.DOCUMENT, "")]


def test_removing_a_middle_lab_passes_on_what_it_saved():
    # the account's own -> pa -> pb: removing pa makes pb restore the account's own, never pa's gone log group.
    outlook = preferences.removal("pa", document(text("pb")), (saved("pa", ACCOUNT_OWN), saved("pb", text("pa"))))
    assert calls(outlook) == [("put_parameter", preferences.saved_name("pb"), ACCOUNT_OWN),
                              ("delete_parameter", preferences.saved_name("pa"), "")]
    assert outlook.changes[0].params["Overwrite"] is True and "Tags" not in outlook.changes[0].params


def test_preferences_changed_by_hand_are_left_and_untagged():
    outlook = preferences.removal("pa", document(ACCOUNT_OWN, creator="pa"), ())
    assert calls(outlook) == [("remove_tags_from_resource", preferences.DOCUMENT, "['ssmlab:lab']")]
    assert "changed by hand" in outlook.notes[0]


def test_a_lab_without_session_logging_touches_nothing():
    outlook = preferences.removal("pc", document(text("pb"), creator="pa"), (saved("pb", text("pa")),))
    assert outlook.changes == () and outlook.notes == ()
    assert preferences.removal("pc", None, ()) == preferences.Outlook()


def test_taking_over_saves_what_is_there_with_the_labs_tags():
    changes = preferences.takeover("pb", document(text("pa"), creator="pa"), ())
    assert calls(changes) == [("put_parameter", preferences.saved_name("pb"), text("pa"))]
    assert {"Key": "ssmlab:lab", "Value": "pb"} in changes[0].params["Tags"] and "Overwrite" not in changes[0].params


def test_taking_over_again_first_leaves_the_chain_so_it_never_loops():
    # pa created, pb set its own over it; pa builds again: pb inherits the creation, pa saves pb's.
    changes = preferences.takeover("pa", document(text("pb"), creator="pa"), (saved("pb", text("pa")),))
    assert calls(changes)[:1] == [("delete_parameter", preferences.saved_name("pb"), "")]
    assert ("put_parameter", preferences.saved_name("pa"), text("pb")) in calls(changes)
    assert not any(c.operation == "remove_tags_from_resource" for c in changes)
    # Removing pa then puts pb's back; removing pb afterwards deletes the document.
    after_pa = preferences.removal("pa", document(text("pa"), creator="pb"), (saved("pa", text("pb")),))
    assert calls(after_pa) == [("update_document", preferences.DOCUMENT, text("pb")),
                               ("delete_parameter", preferences.saved_name("pa"), "")]


def test_a_stale_copy_is_dropped_when_the_lab_creates_the_document_anew():
    changes = preferences.takeover("pa", None, (saved("pa", ACCOUNT_OWN),))
    assert calls(changes) == [("delete_parameter", preferences.saved_name("pa"), "")]
    assert preferences.takeover("pa", document(text("pa"), creator="pa"), ()) == ()
