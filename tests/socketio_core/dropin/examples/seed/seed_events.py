# The seed tutorial's event handlers ("事件处理" and "发送事件消息"), verbatim but for
# print() lines the tests read; shared by the three server set-ups below.


def install(sio):
    @sio.on('connect')
    def on_connect(sid, environ):
        """与客户端建立好连接后被执行"""
        print('connect', sid, flush=True)

    @sio.on('disconnect')
    def on_disconnect(sid):
        """与客户端断开连接后被执行"""
        print('disconnect', sid, flush=True)

    @sio.on('my custom event')
    def my_custom_event(sid, data):
        """自定义事件消息的处理方法: the seed's sending snippets"""
        sio.emit('my event', {'data': 'foobar'})
        sio.emit('my event', {'data': 'foobar'}, room=sid)
        sio.send({'data': 'foobar'})
        sio.send({'data': 'foobar'}, room=sid)

    @sio.on('chat')
    def begin_chat(sid):
        sio.enter_room(sid, 'chat_users')
        sio.emit('rooms', sorted(sio.rooms(sid)), room=sid)

    @sio.on('exit_chat')
    def exit_chat(sid):
        sio.leave_room(sid, 'chat_users')
        sio.emit('rooms', sorted(sio.rooms(sid)), room=sid)

    @sio.on('my message')
    def message(sid, data):
        sio.emit('my reply', data, room='chat_users', skip_sid=sid)
