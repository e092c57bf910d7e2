# In the shape of python-socketio's examples/server/tornado/fiddle.py with `import socketio_core as socketio`.
# Run: python tornado_fiddle.py --port=PORT
import os

import tornado.ioloop
import tornado.web
from tornado.options import define, options, parse_command_line

import socketio_core as socketio

define("port", default=5000, help="run on the given port", type=int)
define("debug", default=False, help="run in debug mode")

sio = socketio.AsyncServer(async_mode="tornado")


class MainHandler(tornado.web.RequestHandler):
    def get(self):
        self.write(open("fiddle.html").read())


@sio.event
async def connect(sid, environ, auth):
    print(f"connected auth={auth} sid={sid}", flush=True)
    await sio.emit("hello", (1, 2, {"hello": "you"}), to=sid)


@sio.event
def disconnect(sid, reason):
    print("disconnected", sid, reason, flush=True)


def main():
    parse_command_line()
    app = tornado.web.Application(
        [
            (r"/", MainHandler),
            (r"/socket.io/", socketio.get_tornado_handler(sio)),
        ],
        static_path=os.path.join(os.path.dirname(__file__), "static"),
        debug=options.debug,
    )
    app.listen(options.port, address="127.0.0.1")
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
