import { createServer } from 'node:http';

/**
 * The HTTP bench's floor: a bare Node HTTP server that reads the request body, parses it as JSON
 * and answers a constant JSON body (FLOOR_ANSWER: the local platform's own answer to the bench's
 * request). No routing, validation, model or metrics: what Node's HTTP stack alone costs.
 */

const port = Number(process.env.PORT);
const answer = process.env.FLOOR_ANSWER ?? '{}';
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT must be a port number, got ${process.env.PORT}`);

createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"malformed_json"}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(answer);
  });
}).listen(port, '127.0.0.1');
