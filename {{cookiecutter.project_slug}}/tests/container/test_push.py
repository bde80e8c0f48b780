"""`make push` settings: a registry must be host[:port]/namespace, and the error says so.

The push itself runs against a real registry in the template's tests.
"""

import pytest

from {{ cookiecutter.package_name }}.container.push import PushError, check_registry


@pytest.mark.parametrize(
    "registry",
    ["127.0.0.1:5000/team", "ghcr.io/ada", "docker.io/ada/", " registry.example:443/a/b "],
)
def test_registry_with_a_namespace_is_accepted(registry):
    assert check_registry(registry) == registry.strip().rstrip("/")


@pytest.mark.parametrize("registry", ["", "ghcr.io", "https://ghcr.io/ada", "ghcr.io/Ada", "/ada"])
def test_bad_registry_names_the_expected_form(registry):
    with pytest.raises(PushError, match=r"host\[:port\]/namespace"):
        check_registry(registry)
