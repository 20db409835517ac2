// server.js -- the seed service Herald replaces, rebuilt for side-by-side benchmarks.
// A browser connects with socket.io and emits 'username'; the backend POSTs
// /message/:event/:to and the service emits the event to that user's socket.
// Usage: node server.js PORT (listens on 127.0.0.1 only).
'use strict';
const http = require('http');
const express = require('express');
const { Server } = require('socket.io');

const port = parseInt(process.argv[2] || process.env.PORT || '7600', 10);
const app = express();
const server = http.createServer(app);
// Only the websocket transport: the load generator never long-polls.
const io = new Server(server, { transports: ['websocket'], serveClient: false });
const users = new Map();   // username -> socket (the seed kept one socket per user)

io.on('connection', (socket) => {
  socket.on('username', (name, ack) => {
    if (typeof name === 'string') {
      users.set(name, socket);
      socket.data.user = name;
    }
    // The ack lets a client know its name is registered before events flow.
    if (typeof ack === 'function') ack();
  });
  socket.on('disconnect', () => {
    const name = socket.data.user;
    if (name && users.get(name) === socket) users.delete(name);
  });
});

app.use(express.json({ limit: '64kb' }));
app.post('/message/:event/:to', (req, res) => {
  const socket = users.get(req.params.to);
  if (!socket) return res.status(404).send('offline');
  socket.emit(req.params.event, req.body);
  res.status(200).send('ok');
});
app.get('/healthz', (req, res) => res.send('ok'));

server.listen(port, '127.0.0.1', () => console.log('socket.io peer on 127.0.0.1:' + port));
process.on('SIGTERM', () => process.exit(0));
