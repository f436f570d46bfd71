// The official OpenAI JavaScript SDK against Glassbox's facade, unchanged but for the base URL and key:
// one plain call, one streamed call and one refused parameter. Prints what it got as one JSON line for
// tests/service/test_openai_facade.py to compare with the ledgered run records.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.GLASSBOX_BASE_URL,
  apiKey: process.env.GLASSBOX_KEY,
  maxRetries: 0,
  timeout: 120_000,
});
const messages = [{ role: "user", content: "Is a verbal contract binding?" }];
const headers = { "X-Glassbox-Thinking-Budget": "16" };

const plain = await client.chat.completions.create(
  { model: "magistral-small-legal", messages, max_tokens: 16, seed: 3 },
  { headers },
);
const choice = plain.choices[0];

const stream = await client.chat.completions.create(
  {
    model: "magistral-small-finance",
    messages,
    max_tokens: 16,
    seed: 5,
    stream: true,
    stream_options: { include_usage: true },
  },
  { headers },
);
const streamed = { jobs: [], thinking: "", answer: "", chunks: 0, finish: null, usage: null, record: null };
for await (const chunk of stream) {
  streamed.chunks += 1;
  if (!streamed.jobs.includes(chunk.glassbox_job_id)) streamed.jobs.push(chunk.glassbox_job_id);
  if (chunk.usage) streamed.usage = chunk.usage;
  if (chunk.glassbox_record_sha256) streamed.record = chunk.glassbox_record_sha256;
  for (const part of chunk.choices) {
    streamed.thinking += part.delta.reasoning_content ?? "";
    streamed.answer += part.delta.content ?? "";
    if (part.finish_reason) streamed.finish = part.finish_reason;
  }
}

let refused = null;
try {
  await client.chat.completions.create({ model: "magistral-small-legal", messages, n: 2 });
} catch (error) {
  refused = { status: error.status, message: error.message, type: error.constructor.name };
}

console.log(
  JSON.stringify({
    plain: {
      job: plain.glassbox_job_id,
      record: plain.glassbox_record_sha256,
      content: choice.message.content,
      reasoning: choice.message.reasoning_content,
      finish: choice.finish_reason,
      usage: plain.usage,
    },
    streamed,
    refused,
  }),
);
