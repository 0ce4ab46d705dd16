import { describe, expect, it } from "vitest";
import { forwardedText, newOffers, offerText, portRows, type ForwardEntry } from "../../src/portsModel";
import type { RuntimePort } from "../../src/protocol";
import { profileStatus } from "./fixtures";

function port(overrides: Partial<RuntimePort> = {}): RuntimePort {
  return { port: 6006, address: "0.0.0.0", host: "127.0.0.1", process: "tensorboard", pid: 41, ...overrides };
}

describe("newOffers", () => {
  it("offers a new port once, and again only when another process listens there", () => {
    const offered = new Set<string>();
    const status = profileStatus({ ports: [port()] });
    expect(newOffers([status], [], offered).map((o) => o.port.port)).toEqual([6006]);
    expect(newOffers([status], [], offered)).toEqual([]);
    // The server stopped: its key goes, so the next one on that port is offered.
    expect(newOffers([profileStatus({ ports: [] })], [], offered)).toEqual([]);
    expect(offered.size).toBe(0);
    const restarted = profileStatus({ ports: [port({ pid: 99 })] });
    expect(newOffers([restarted], [], offered).map((o) => o.port.pid)).toEqual([99]);
  });

  it("does not offer a forwarded port, nor ports of a profile that is not connected", () => {
    const forward: ForwardEntry = { profile: "default", remotePort: 6006, remoteHost: "127.0.0.1", localPort: 6006 };
    expect(newOffers([profileStatus({ ports: [port()] })], [forward], new Set())).toEqual([]);
    const down = profileStatus({ state: "reconnecting", ports: [port()] });
    expect(newOffers([down], [], new Set())).toEqual([]);
  });

  it("keeps what it offered while the link is down, so a recovery does not offer it again", () => {
    const offered = new Set<string>();
    newOffers([profileStatus({ ports: [port()] })], [], offered);
    newOffers([profileStatus({ state: "reconnecting", ports: [] })], [], offered);
    expect(newOffers([profileStatus({ ports: [port()] })], [], offered)).toEqual([]);
  });
});

describe("texts", () => {
  it("names the process when the runtime said which one", () => {
    expect(offerText(port())).toBe("Port 6006 (tensorboard) is listening on the runtime.");
    expect(offerText(port({ process: null }))).toBe("Port 6006 is listening on the runtime.");
  });

  it("says when the same local port was taken", () => {
    expect(forwardedText(8000, 8000)).toBe("Runtime port 8000 is now localhost:8000.");
    expect(forwardedText(8000, 40123)).toBe("Runtime port 8000 is now localhost:40123 (port 8000 is taken on this machine).");
  });
});

describe("portRows", () => {
  it("lists connected profiles' ports by number with process and where they are forwarded", () => {
    const forward: ForwardEntry = { profile: "default", remotePort: 8000, remoteHost: "127.0.0.2", localPort: 8000 };
    const rows = portRows(
      [
        profileStatus({ ports: [port(), port({ port: 8000, address: "127.0.0.2", host: "127.0.0.2", process: "python3", pid: 7 })] }),
        profileStatus({ profile: "other", state: "disconnected", ports: [port({ port: 1 })] }),
      ],
      [forward],
    );
    expect(rows.map((r) => [r.label, r.description, r.forward])).toEqual([
      ["6006", "tensorboard not forwarded", undefined],
      ["8000", "python3 → localhost:8000", forward],
    ]);
    expect(rows[1]?.tooltip).toBe("python3, pid 7 listens on 127.0.0.2:8000 on default; → localhost:8000.");
  });

  it("names the profile when several are connected, and an unknown process as such", () => {
    const rows = portRows(
      [profileStatus({ ports: [port({ process: null, pid: null })] }), profileStatus({ profile: "b", ports: [] })],
      [],
    );
    expect(rows.map((r) => r.description)).toEqual(["unknown process not forwarded · default"]);
  });
});
