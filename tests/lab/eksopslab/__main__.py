"""labctl: start, stop and inspect the eksops.windows lab.

  labctl start  [--scenario FILE] [--state DIR]   start etcd, API servers, moto, webhook, signer
  labctl status [--state DIR]                     what runs, and each cluster's endpoint
  labctl env    [--state DIR]                     shell exports for the lab's AWS endpoint
  labctl stop   [--state DIR]                     stop everything by the saved PIDs
"""

import argparse
import json
import os
import sys

from .lab import Lab, LabError, load_scenario

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEFAULT_STATE = os.path.join(ROOT, ".lab", "default")
DEFAULT_SCENARIO = os.path.join(ROOT, "tests", "lab", "scenarios", "demo.yml")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="labctl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "env"])
    parser.add_argument("--state", default=os.environ.get("EKSOPS_LAB_STATE", DEFAULT_STATE))
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO)
    args = parser.parse_args(argv)
    lab = Lab(args.state)
    try:
        if args.command == "start":
            scenario = load_scenario(args.scenario)
            names = ", ".join(c["name"] for c in scenario["clusters"])
            print(f"lab: starting {len(scenario['clusters'])} clusters ({names}) in {lab.state_dir}",
                  flush=True)
            seconds = lab.start(scenario)
            print(f"lab: ready in {seconds:.1f}s; inventory {lab.path('inventory.yml')}, "
                  f"environment {lab.path('env.sh')}")
        elif args.command == "stop":
            stopped = lab.stop()
            print(f"lab: stopped {len(stopped)} processes" if stopped else "lab: nothing running")
        elif args.command == "env":
            with open(lab.path("env.sh"), encoding="utf-8") as handle:
                sys.stdout.write(handle.read())
        else:
            alive = lab.running()
            print(json.dumps({"running": alive,
                              "clusters": {n: {"endpoint": c["endpoint"], "region": c["region"],
                                               "version": c["version"],
                                               "platform_version": c["platform_version"]}
                                           for n, c in lab.info()["clusters"].items()}
                              if alive else {}}, indent=2))
    except (LabError, FileNotFoundError) as exc:
        print(f"labctl: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
