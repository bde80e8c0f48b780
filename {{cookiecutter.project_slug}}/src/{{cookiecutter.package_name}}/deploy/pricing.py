"""What an instance costs, said before anything is created.

On-demand Linux prices in USD per hour, copied from the AWS pricing pages on the
date below. They change rarely but they do change: the notice says how old they
are, and the EC2 pricing page has today's. The disk is gp3 at its list price.
"""

from datetime import datetime

PRICES_AS_OF = "2025-06-01"
# type -> region -> USD/hour; "*" is the us-east-1 price, used where a region is not listed.
ON_DEMAND_USD_PER_HOUR = {
    "t3.small": {"*": 0.0208, "eu-west-1": 0.0228, "eu-central-1": 0.024},
    "t3.medium": {
        "*": 0.0416,
        "eu-west-1": 0.0456,
        "eu-central-1": 0.048,
        "ap-southeast-1": 0.0528,
    },
    "t3.large": {"*": 0.0832, "eu-west-1": 0.0912, "eu-central-1": 0.096},
    "g4dn.xlarge": {"*": 0.526, "eu-west-1": 0.587, "eu-central-1": 0.658},
    "g5.xlarge": {"*": 1.006, "eu-west-1": 1.123, "eu-central-1": 1.258},
}
GP3_USD_PER_GB_MONTH = 0.08
HOURS_PER_MONTH = 730


def hourly_price(instance_type: str, region: str, disk_gb: int) -> float | None:
    """Instance plus disk, USD per hour; None for a type not in the table."""
    by_region = ON_DEMAND_USD_PER_HOUR.get(instance_type)
    if by_region is None:
        return None
    disk = disk_gb * GP3_USD_PER_GB_MONTH / HOURS_PER_MONTH
    return by_region.get(region, by_region["*"]) + disk


def notice(instance_type: str, region: str, disk_gb: int, ttl_hours: float) -> str:
    price = hourly_price(instance_type, region, disk_gb)
    if price is None:
        return (
            f"This deploy rents a {instance_type} in {region}; its price is not in this project's "
            f"table (prices as of {PRICES_AS_OF}): check the EC2 pricing page. The cost guard "
            f"ends it after {ttl_hours:g} h."
        )
    return (
        f"This deploy rents a {instance_type} in {region} with a {disk_gb} GB disk: about "
        f"{price:.4f} USD an hour (on-demand, prices as of {PRICES_AS_OF}). The cost guard ends "
        f"it after {ttl_hours:g} h: at most {price * ttl_hours:.2f} USD unless you extend it."
    )


def money(
    instance_type: str,
    region: str,
    disk_gb: int,
    launched: datetime,
    deadline: datetime,
    now: datetime,
) -> str:
    """Spent so far and still at risk before the deadline, for `make status`."""
    price = hourly_price(instance_type, region, disk_gb)
    if price is None:
        return f"price of {instance_type} unknown (see the EC2 pricing page)"
    spent = max((now - launched).total_seconds(), 0) / 3600 * price
    at_risk = max((deadline - now).total_seconds(), 0) / 3600 * price
    return f"spent ~{spent:.2f} USD so far, at most {at_risk:.2f} USD more before the deadline"
