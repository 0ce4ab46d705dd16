import { describe, expect, it } from "vitest";
import { ConnectionStory, outageOver, restartHint } from "../../src/connectionStory";
import { profileStatus } from "./fixtures";

const connected = profileStatus();
const dropped = profileStatus({ state: "reconnecting", syncState: "disconnected", lastError: "connection refused" });
const waiting = (s: number) => profileStatus({ state: "reconnecting", syncState: "retrying", retryInSeconds: s, lastError: "connection refused" });

describe("ConnectionStory", () => {
  it("tells connect, drop, each failed try, and the recovery with how long it took", () => {
    const story = new ConnectionStory(3);
    expect(story.next(connected, 0).line).toBe("default: connected to 127.0.0.1:2222");
    expect(story.next(connected, 500).line).toBeUndefined();
    expect(story.next(dropped, 1_000).line).toBe("default: the link to 127.0.0.1:2222 dropped (connection refused)");
    expect(story.next(waiting(2), 1_100).line).toBe("default: next try in 2 s");
    expect(story.next(waiting(1), 2_100).line).toBeUndefined();
    expect(story.next(dropped, 3_200).line).toBe("default: try 2 to reach 127.0.0.1:2222 failed (connection refused), down for 2 s");
    expect(story.next(connected, 9_000).line).toBe("default: back on 127.0.0.1:2222 after 8 s");
    expect(story.tries).toBe(0);
  });

  it("suspects a restarted runtime once, after the given number of failed tries, and again after a recovery", () => {
    const story = new ConnectionStory(3);
    story.next(connected, 0);
    const hints: boolean[] = [];
    for (let i = 0; i < 5; i += 1) {
      hints.push(story.next(dropped, i * 10).suspectRestart, story.next(waiting(1), i * 10 + 5).suspectRestart);
    }
    expect(hints.filter(Boolean)).toHaveLength(1);
    expect(hints.indexOf(true)).toBe(4); // the third failed try
    story.next(connected, 100);
    for (let i = 0; i < 3; i += 1) {
      story.next(waiting(1), 200 + i);
      if (story.next(dropped, 210 + i).suspectRestart) {
        expect(i).toBe(2);
        return;
      }
    }
    throw new Error("no second hint after a recovery");
  });

  it("says disconnected and errors once each", () => {
    const story = new ConnectionStory();
    story.next(connected, 0);
    expect(story.next(profileStatus({ state: "disconnected" }), 1).line).toBe("default: disconnected from 127.0.0.1:2222");
    expect(story.next(profileStatus({ state: "disconnected" }), 2).line).toBeUndefined();
    const error = profileStatus({ state: "error", lastError: "The runtime refused the key." });
    expect(story.next(error, 3).line).toBe("default: The runtime refused the key.");
    expect(story.next(error, 4).line).toBeUndefined();
  });

  it("treats a fresh connect as a connect, not as the end of an outage", () => {
    const story = new ConnectionStory();
    story.next(connected, 0);
    story.next(dropped, 10);
    story.next(profileStatus({ state: "disconnected" }), 20);
    expect(story.next(profileStatus({ state: "connecting", syncState: "disconnected", host: "10.0.0.9" }), 30).line).toBeUndefined();
    expect(story.next(profileStatus({ host: "10.0.0.9", syncState: "disconnected" }), 40).line).toBe("default: connected to 10.0.0.9:2222");
  });
});

describe("the restarted? notification", () => {
  it("ends when the link is back or the profile is let go, not while it is still down", () => {
    expect(outageOver(connected)).toBe(true);
    expect(outageOver(profileStatus({ state: "disconnected" }))).toBe(true);
    expect(outageOver(dropped)).toBe(false);
    expect(outageOver(waiting(3))).toBe(false);
    expect(outageOver(profileStatus({ state: "connecting" }))).toBe(false);
    expect(outageOver(profileStatus({ syncState: "retrying", retryInSeconds: 2 }))).toBe(false);
  });

  it("says what happened and links both ways out for its own profile", () => {
    const hint = restartHint(profileStatus({ profile: "gpu box", state: "reconnecting" }), 3);
    expect(hint.title).toContain("127.0.0.1:2222 has not answered 3 tries in a row");
    expect(hint.title).toContain("may have been restarted");
    const args = encodeURIComponent(JSON.stringify(["gpu box"]));
    expect(hint.actions).toBe(
      `[Reconnect Now](command:colablink.reconnectNow?${args}) · [Paste New Connection Info](command:colablink.pasteConnectionInfo?${args})`,
    );
  });
});
