"""The runtime's listening-socket lines and process lookups, parsed as hostile input."""

from __future__ import annotations

from ipaddress import IPv6Address

from colablink.ports import MAX_LISTENING, Listening, Owner, parse_listening, parse_owners


def test_addresses_ports_and_where_a_forward_connects() -> None:
    output = "\n".join(
        [
            "0200007F:1F90 4242",  # 127.0.0.2:8080
            "00000000:178E 4343",  # 0.0.0.0:6030
            "00000000000000000000000001000000:1F40 4444",  # [::1]:8000
            "00000000000000000000000000000000:0016 4545",  # [::]:22
            "0000000000000000FFFF00000100007F:2710 4646",  # [::ffff:127.0.0.1]:10000
            "0200007F:1F90 9999",  # the same address and port again (SO_REUSEPORT)
        ]
    )
    assert parse_listening(output) == [
        Listening("::", 22, 4545, "::1"),
        Listening("0.0.0.0", 6030, 4343, "127.0.0.1"),
        Listening("::1", 8000, 4444, "::1"),
        Listening("127.0.0.2", 8080, 4242, "127.0.0.2"),
        Listening(str(IPv6Address("::ffff:127.0.0.1")), 10000, 4646, "127.0.0.1"),
    ]


def test_garbage_is_dropped_and_the_list_is_bounded() -> None:
    hostile = [
        "",
        "0200007F:1F90",
        "0200007F:1F90 12ab",
        "zz00007F:1F90 1",
        "0200007F:XYZW 1",
        "0200007F:0000 1",
        "0200007F:1F90 1 extra",
        "0200007F1F90 1",
        "; rm -rf / 1",
        "0200007F:1F90 " + "9" * 40,
    ]
    assert parse_listening("\n".join(hostile)) == []
    many = "\n".join(f"0100007F:{port:04X} {port}" for port in range(1, 500))
    assert len(parse_listening(many)) == MAX_LISTENING


def test_owners_only_for_asked_sockets_with_clean_names() -> None:
    output = "\n".join(
        [
            "11 100 tensorboard",
            "12 101 evil\x1b[2Jname" + "x" * 100,
            "13 102",
            "99 103 not-asked",
            "11 104 second-holder",
            "x 105 bad",
            "14 -3 bad",
        ]
    )
    owners = parse_owners(output, [11, 12, 13, 14])
    assert owners == {
        11: Owner(100, "tensorboard"),
        12: Owner(101, ("evil\\x1b[2Jname" + "x" * 100)[:40]),
        13: Owner(102, ""),
    }
