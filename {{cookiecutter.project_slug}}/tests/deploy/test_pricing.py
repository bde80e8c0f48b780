"""The price notice: type, hourly price, TTL and the worst case, from a dated table."""

from datetime import UTC, datetime, timedelta

from {{ cookiecutter.package_name }}.deploy.pricing import PRICES_AS_OF, hourly_price, money, notice


def test_notice_names_the_price_the_ttl_and_the_worst_case():
    text = notice("t3.medium", "eu-west-1", 30, 4)
    price = hourly_price("t3.medium", "eu-west-1", 30)
    assert 0.045 < price < 0.05  # the eu-west-1 price plus the disk
    assert "t3.medium in eu-west-1" in text and f"{price:.4f} USD an hour" in text
    assert f"at most {price * 4:.2f} USD" in text and PRICES_AS_OF in text


def test_unlisted_region_uses_the_reference_price_and_unknown_type_says_so():
    assert hourly_price("g4dn.xlarge", "sa-east-1", 0) == 0.526
    assert hourly_price("x9.mega", "us-east-1", 30) is None
    assert "not in this project's table" in notice("x9.mega", "us-east-1", 30, 4)


def test_money_spent_and_at_risk():
    now = datetime.now(UTC)
    text = money(
        "t3.medium", "us-east-1", 0, now - timedelta(hours=2), now + timedelta(hours=1), now
    )
    assert text == "spent ~0.08 USD so far, at most 0.04 USD more before the deadline"
