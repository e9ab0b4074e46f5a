"""A user-space link delay for a network namespace: every packet an iptables NFQUEUE
rule hands over is held for DELAY_MS and then accepted, in arrival order.

This kernel has no netem. scripts/bench.py runs this inside a namespace whose loopback
has `-j NFQUEUE --queue-num N` on OUTPUT, so each packet is held once: a 25 ms hold
makes a 50 ms round trip that TCP sees as a real link (handshake, slow start, ACK
clocking), unlike a relay that delays whole chunks.

Usage: netdelay.py QUEUE_NUM DELAY_MS. Prints "ready" once bound; exits on SIGTERM or SIGINT.
"""
import collections
import os
import select
import signal
import sys
import time

from netfilterqueue import COPY_META, NetfilterQueue


def main():
    queue_num, delay = int(sys.argv[1]), float(sys.argv[2]) / 1000
    held = collections.deque()
    clock = time.monotonic
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))

    def hold(pkt):
        # No verdict in the callback: the kernel keeps the packet until accept().
        held.append((clock() + delay, pkt))

    nfq = NetfilterQueue()
    # Room for a full window of held packets; a full queue would drop them.
    nfq.bind(queue_num, hold, max_len=65536, mode=COPY_META, sock_len=64 << 20)
    fd = nfq.get_fd()
    os.set_blocking(fd, False)
    print("ready", flush=True)
    try:
        while not stop:
            timeout = max(0.0, held[0][0] - clock()) if held else 0.5
            try:
                ready, _, _ = select.select([fd], [], [], timeout)
            except InterruptedError:
                continue
            if ready:
                nfq.run(block=False)
            now = clock()
            # One fixed hold and FIFO release keep the packets in order.
            while held and held[0][0] <= now:
                held.popleft()[1].accept()
    finally:
        nfq.unbind()


if __name__ == "__main__":
    main()
