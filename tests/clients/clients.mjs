// ollama-js and openai-node against the daemon over https.
//
//   NODE_EXTRA_CA_CERTS=ca.pem node clients.mjs BASE_URL KEY
//
// Prints one JSON object: for each library, the reply of a chat, the
// pieces of a streamed chat and the model names; or, when the CA is the
// wrong one, each library's error.  The caller checks the values.

import { Ollama } from "ollama";
import OpenAI from "openai";

const [base, key] = process.argv.slice(2);
const messages = [{ role: "user", content: "hello" }];

async function ollamaJs() {
	const o = new Ollama({ host: base,
	    headers: { Authorization: `Bearer ${key}` } });
	const chat = await o.chat({ model: "llama3", messages, stream: false });
	const stream = [];
	for await (const part of await o.chat({ model: "llama3", messages,
	    stream: true }))
		stream.push(part.message.content);
	const list = await o.list();
	return { chat: chat.message.content, stream,
	    models: list.models.map((m) => m.name) };
}

async function openaiNode() {
	const o = new OpenAI({ baseURL: `${base}/v1`, apiKey: key,
	    maxRetries: 0, timeout: 10000 });
	const chat = await o.chat.completions.create({ model: "llama3",
	    messages });
	const stream = [];
	for await (const chunk of await o.chat.completions.create({
	    model: "llama3", messages, stream: true }))
		stream.push(chunk.choices[0]?.delta?.content ?? "");
	const models = [];
	for await (const m of o.models.list())
		models.push(m.id);
	return { chat: chat.choices[0].message.content, stream, models };
}

// An error's own message and those of its causes: fetch hides the TLS
// error ("self-signed certificate in certificate chain") in .cause.
function describe(e) {
	const says = [];
	for (; e; e = e.cause)
		says.push(`${e.code ?? e.name}: ${e.message}`);
	return { error: says.join(" <- ") };
}

const out = {};
for (const [name, fn] of [["ollama", ollamaJs], ["openai", openaiNode]])
	out[name] = await fn().catch(describe);
console.log(JSON.stringify(out));
