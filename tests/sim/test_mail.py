"""Mail and inboxes: columnar batches, and an inbox order that does not depend on placement."""

import numpy as np
import pytest

from ekklesia.core.mail import Inbox, Mail, Parcel, broadcast_address


def mail(sender: list[int], to: list[int], **columns: list[float]) -> Mail:
    return Mail(np.asarray(sender), np.asarray(to), {k: np.asarray(v) for k, v in columns.items()})


def test_concat_fills_the_columns_a_part_lacks() -> None:
    a = mail([1, 2], [5, 5], x=[1.0, 2.0])
    b = Mail(np.asarray([3]), np.asarray([5]), {"n": np.asarray([7])})
    both = Mail.concat([a, Mail.empty(), b])
    assert both.sender.tolist() == [1, 2, 3]
    assert np.isnan(both["x"][2]) and both["x"][:2].tolist() == [1.0, 2.0]
    assert both["n"].tolist() == [0, 0, 7]
    with pytest.raises(ValueError, match="column 'x'"):
        Mail(np.asarray([1, 2]), np.asarray([3, 4]), {"x": np.asarray([1.0])})
    with pytest.raises(TypeError, match="numeric"):
        Mail(np.asarray([1]), np.asarray([3]), {"s": np.asarray(["text"])})


def parcels(pieces: list[tuple[int, Mail]]) -> list[Parcel]:
    return [Parcel(0, 0, 0, origin, 0, m) for origin, m in pieces]


def test_an_inbox_has_one_order_however_the_senders_were_split() -> None:
    # agents 10..13 receive; the senders 0..5 send from one slice, or from two
    whole = mail([5, 0, 3, 0, 2], [11, 11, 10, 13, 11], v=[1.0, 2.0, 3.0, 4.0, 5.0])
    first = mail([0, 0, 2], [11, 13, 11], v=[2.0, 4.0, 5.0])
    second = mail([5, 3], [11, 10], v=[1.0, 3.0])
    one = Inbox.gather(parcels([(0, whole)]), first_id=10, size=4)
    two = Inbox.gather(parcels([(3, second), (0, first)]), first_id=10, size=4)
    for inbox in (one, two):
        assert inbox.direct.to.tolist() == [10, 11, 11, 11, 13]
        assert inbox.direct.sender.tolist() == [3, 0, 2, 5, 0]
        assert inbox.direct["v"].tolist() == [3.0, 2.0, 5.0, 1.0, 4.0]
        assert inbox.count().tolist() == [1, 3, 0, 1]
        assert inbox.total("v").tolist() == [3.0, 8.0, 0.0, 4.0]
        assert inbox.latest("v", default=-1.0).tolist() == [3.0, 1.0, -1.0, 4.0]


def test_broadcasts_stay_one_row_and_a_senders_rows_keep_their_order() -> None:
    everyone = broadcast_address(0)
    m = mail([7, 7, 4], [everyone, 12, everyone], v=[1.0, 2.0, 3.0])
    again = mail([7], [12], v=[9.0])
    inbox = Inbox.gather(
        [Parcel(0, 0, 1, 0, 0, m), Parcel(0, 0, 1, 0, 1, again)], first_id=10, size=1000
    )
    assert len(inbox.broadcast) == 2 and inbox.broadcast.sender.tolist() == [4, 7]
    assert inbox.direct["v"].tolist() == [2.0, 9.0]  # sender 7's two rows to 12, in order sent
    assert len(inbox) == 4
