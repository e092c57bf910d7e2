# The Flask application the seed's 方式2 imports (`from wsgi import app`).
from flask import Flask

app = Flask(__name__)


@app.route('/')
def index():
    return 'the Flask app'
