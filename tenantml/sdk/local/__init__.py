"""What ``tenantml exec`` puts into the user's Python processes.

    site/sitecustomize.py   on PYTHONPATH of the command: installs :mod:`hook` at start-up
    hook.py                 an import hook: when azure.ai.ml / azure.identity / azure-core's
                            transports are imported, replace what would reach Azure
    client.py               the served MLClient: jobs run by tenantml, assets from tenantml.yml
    errors.py               NotServedLocally, and the exit-2 paragraph for tenantml's errors

Every Azure call the client does not serve fails at once, naming the call; the HTTP transports
are blocked as a backstop, so nothing ever waits on a network retry.
"""
