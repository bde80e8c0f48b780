"""`make k8s | k8s-apply | k8s-status | k8s-delete | k8s-measure`.

python -m {{ cookiecutter.package_name }}.k8s render [--image REF]   # build/k8s/{cpu,gpu}.yaml, validated
python -m {{ cookiecutter.package_name }}.k8s apply | status | delete   # kubectl, current context
python -m {{ cookiecutter.package_name }}.k8s measure                   # memory and CPU under load
"""

import argparse
import sys

from . import cluster, render
from .errors import KubeError
from .settings import KubeSettings


def render_command(settings: KubeSettings, image: str | None) -> None:
    reference = image or render.pushed_image()
    done = render.render_all(reference, settings.version)
    for overlay, objects in done.items():
        print(f"build/k8s/{overlay}.yaml: {', '.join(objects)}")
    print(f"Image {reference}; valid for Kubernetes {settings.version} (strict schema).")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["render", "apply", "status", "delete", "measure"])
    parser.add_argument("--image", help="image reference instead of the last push's")
    args = parser.parse_args()
    settings = KubeSettings()
    try:
        if args.command == "render":
            render_command(settings, args.image)
        elif args.command == "measure":
            from .measure import measure_image  # the Docker SDK only when measuring

            print(measure_image(args.image))
        else:
            print(getattr(cluster, args.command)(settings))
    except KubeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
