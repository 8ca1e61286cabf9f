import assert from "node:assert/strict";
import { parseCommandLine, usageOf, UsageError, type Command, type Option } from "../../deploy/cli.ts";

const COMMAND = {
  usage: "npm run tool --",
  summary: "A tool.",
  options: {
    rooms: { kind: "integer", default: 50, min: 1, help: "rooms" },
    rate: { kind: "number", min: 0.5, help: "rate" },
    client: { kind: "string", default: "kit", choices: ["kit", "sdk"], help: "client" },
    quick: { kind: "boolean", help: "quick" },
  },
} as const satisfies Command<Record<string, Option>>;

function refusal(argv: string[]): string {
  try {
    parseCommandLine(COMMAND, argv);
  } catch (error) {
    assert.ok(error instanceof UsageError);
    return error.message;
  }
  assert.fail("accepted");
}

describe("command lines", function () {
  it("gives typed values, defaults included", function () {
    assert.deepEqual(parseCommandLine(COMMAND, ["--rate", "2.5", "--quick"]), { help: false, values: { rooms: 50, rate: 2.5, client: "kit", quick: true } });
    assert.deepEqual(parseCommandLine(COMMAND, []), { help: false, values: { rooms: 50, rate: undefined, client: "kit", quick: false } });
  });

  it("asks for help on --help or -h", function () {
    assert.deepEqual(parseCommandLine(COMMAND, ["-h"]), { help: true });
    assert.match(usageOf(COMMAND), /--rooms <n> +rooms \(default 50\)/);
    assert.match(usageOf(COMMAND), /--client <kit\|sdk>/);
  });

  it("refuses unknown flags, missing values, bad numbers, out-of-range numbers and unknown choices, naming the flag", function () {
    assert.match(refusal(["--roms", "3"]), /--roms/);
    assert.match(refusal(["--rooms"]), /--rooms/);
    assert.match(refusal(["--rooms", "2.5"]), /--rooms must be a whole number/);
    assert.match(refusal(["--rooms", "0"]), /--rooms must be at least 1, got 0/);
    assert.match(refusal(["--rate", "fast"]), /--rate must be a number/);
    assert.match(refusal(["--client", "browser"]), /--client must be one of kit, sdk/);
    assert.match(refusal(["stray"]), /stray/);
  });
});
