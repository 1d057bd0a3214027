"""A DNS server on loopback that answers one name with fixed A records: what Docker's embedded
DNS (127.0.0.11) does for a compose service scaled to several replicas."""

import socket
import struct
import threading

TYPE_A, CLASS_IN = 1, 1
TTL_S = 5


def question_end(packet: bytes) -> int:
    """Offset just past the (single) question's QNAME, QTYPE and QCLASS."""
    offset = 12
    while packet[offset]:
        offset += packet[offset] + 1
    return offset + 1 + 4


def question_name(packet: bytes) -> str:
    labels, offset = [], 12
    while length := packet[offset]:
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii"))
        offset += length + 1
    return ".".join(labels).lower()


def answer(query: bytes, name: str, addresses: list[str]) -> bytes:
    end = question_end(query)
    qtype = struct.unpack("!H", query[end - 4 : end - 2])[0]
    matches = question_name(query) == name and qtype == TYPE_A
    records = addresses if matches else []
    flags = 0x8400 if matches else 0x8403  # authoritative answer; else "no such name"
    header = struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], flags, 1, len(records), 0, 0)
    body = b"".join(
        # 0xC00C: the name is the question's, at offset 12.
        struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL_S, 4) + socket.inet_aton(address)
        for address in records
    )
    return header + query[12:end] + body


class DnsResponder:
    """`with DnsResponder("api.test", ["127.0.0.1", "127.0.0.2"]) as dns:` serves on dns.address."""

    def __init__(self, name: str, addresses: list[str]):
        self.name, self.addresses = name.lower(), addresses
        self.queries: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)  # how often serve() checks whether to stop
        self.stopping = threading.Event()
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                query, client = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            self.queries.append(question_name(query))
            self.sock.sendto(answer(query, self.name, self.addresses), client)

    def __enter__(self) -> "DnsResponder":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()
