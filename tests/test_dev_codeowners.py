from agents.dev.codeowners import owners_for

TEXT = """# default
*           @acme/platform
*.py        @py-owner
/orders/    @carol @acme/orders-team
docs/**     docs@example.com
orders/legacy.py
"""


def test_last_matching_pattern_wins() -> None:
    assert owners_for(TEXT, ["README.md"]).teams == ("platform",)
    assert owners_for(TEXT, ["lib/util.py"]).users == ("py-owner",)
    owners = owners_for(TEXT, ["orders/mapper.py"])
    assert owners.users == ("carol",) and owners.teams == ("orders-team",)
    # A later line without owners leaves the file with none.
    assert owners_for(TEXT, ["orders/legacy.py"]).users == ()
    # Emails cannot be asked for a review.
    assert owners_for(TEXT, ["docs/a/b.md"]).users == ()


def test_anchoring_and_exclusions() -> None:
    assert owners_for("/orders/ @carol\n", ["x/orders/a.py"]).users == ()
    assert owners_for("orders/ @carol\n", ["orders/a.py"]).users == ("carol",)
    assert owners_for("mapper.py @carol\n", ["deep/in/mapper.py"]).users == ("carol",)
    assert owners_for("* @nightowl-bot @carol\n", ["a"], exclude=["nightowl-bot"]).users \
        == ("carol",)
