// A Node.js echo server (the documentation's net server): one thread runs the event loop
// (libuv, on epoll); each read is answered with "hello".    usage: node net_server.js PORT
const net = require("net");

const server = net.createServer((socket) => {
  socket.on("data", () => socket.write("hello"));
  socket.on("error", () => {});
});
server.listen(Number(process.argv[2]), "127.0.0.1");
