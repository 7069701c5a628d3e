"""A class the DBOS runtime (which runs from this folder) can unpickle, and a gateway started
elsewhere cannot: an event holding one is a value the gateway fails to read (a 500)."""


class Opaque:
    def __init__(self, secret: str) -> None:
        self.secret = secret
